package storage

import (
	"bytes"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEntryKeysSortLast: every other key sorts before the lowest entry key (see keys.go
// for why), and entry keys sort in index order.
func TestEntryKeysSortLast(t *testing.T) {
	lowest := entryKey(nil, 0)
	for _, key := range [][]byte{keyMeta, keyHardState, keyConfig, keyIdentity, keyFormat,
		configIndexKey(nil, 0), configIndexKey(nil, math.MaxUint64)} {
		require.Negative(t, bytes.Compare(key, lowest), describeKey(key))
	}
	for _, pair := range [][2]uint64{{0, 1}, {1, 2}, {255, 256}, {1<<32 - 1, 1 << 32}, {math.MaxUint64 - 1, math.MaxUint64}} {
		require.Negative(t, bytes.Compare(entryKey(nil, pair[0]), entryKey(nil, pair[1])), "%v", pair)
	}
	index, ok := parseEntryKey(entryKey(nil, 1<<40+7))
	require.True(t, ok)
	require.Equal(t, uint64(1<<40+7), index)
	require.Equal(t, "entry 3", describeKey(entryKey(nil, 3)))
}
