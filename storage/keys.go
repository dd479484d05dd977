package storage

import (
	"encoding/binary"
	"fmt"
)

// Key layout. Every record kind has a one-byte prefix; singleton records are that byte
// alone. Entry keys are the prefix followed by the index as 8 big-endian bytes, so that
// LevelDB's byte order is log order and a range of indexes is a range of keys.
const (
	prefixEntry byte = 'e' // 'e' + index (8 bytes, big-endian) -> Entry
	entryKeyLen      = 1 + 8
)

var (
	keyMeta      = []byte{'m'} // first index, last index, last term
	keyHardState = []byte{'h'} // messages.HardState
	keyConfig    = []byte{'c'} // messages.Configuration (the base configuration)
	keyIdentity  = []byte{'i'} // Identity
	keyFormat    = []byte{'v'} // format version of the store
)

// entryKey appends the key of the entry at index to dst[:0] and returns it.
func entryKey(dst []byte, index uint64) []byte {
	dst = append(dst[:0], prefixEntry)
	return binary.BigEndian.AppendUint64(dst, index)
}

// parseEntryKey returns the index an entry key names; ok is false if key is not a
// well-formed entry key.
func parseEntryKey(key []byte) (index uint64, ok bool) {
	if len(key) != entryKeyLen || key[0] != prefixEntry {
		return 0, false
	}
	return binary.BigEndian.Uint64(key[1:]), true
}

// describeKey names the record a key holds, for error messages.
func describeKey(key []byte) string {
	if index, ok := parseEntryKey(key); ok {
		return fmt.Sprintf("entry %d", index)
	}
	if len(key) == 1 {
		switch key[0] {
		case keyMeta[0]:
			return "metadata record"
		case keyHardState[0]:
			return "hard state"
		case keyConfig[0]:
			return "configuration"
		case keyIdentity[0]:
			return "identity"
		case keyFormat[0]:
			return "format record"
		}
	}
	return fmt.Sprintf("unknown key %x", key)
}
