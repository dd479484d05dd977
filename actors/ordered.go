package actors

import (
	"cmp"
	"slices"
)

// sortedKeys returns the keys of m in order. Logic iterates maps through it wherever the
// iteration sends messages, so that a seeded simulation replays exactly.
func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
