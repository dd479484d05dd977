package storage

import (
	"encoding/binary"
	"fmt"

	"github.com/syndtr/goleveldb/leveldb/util"
)

// Key layout. Every record kind has a one-byte prefix; singleton records are that byte
// alone. Entry keys and configuration index keys are the prefix followed by the index as
// 8 big-endian bytes, so that LevelDB's byte order is log order and a range of indexes is
// a range of keys.
const (
	prefixEntry       byte = 'e'   // 'e' + index (8 bytes, big-endian) -> Entry
	prefixConfigEntry byte = 'k'   // 'k' + index (8 bytes, big-endian) -> Entry (a copy of a configuration entry)
	indexKeyLen            = 1 + 8 // length of entry and configuration index keys
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
	return parseIndexKey(key, prefixEntry)
}

// configIndexKey appends the key of the configuration index record of the entry at index
// to dst[:0] and returns it.
func configIndexKey(dst []byte, index uint64) []byte {
	dst = append(dst[:0], prefixConfigEntry)
	return binary.BigEndian.AppendUint64(dst, index)
}

// parseConfigIndexKey returns the index a configuration index key names; ok is false if
// key is not a well-formed configuration index key.
func parseConfigIndexKey(key []byte) (index uint64, ok bool) {
	return parseIndexKey(key, prefixConfigEntry)
}

// configIndexRange is the range of keys of the configuration index records of the entries
// with index >= from.
func configIndexRange(from uint64) *util.Range {
	return &util.Range{Start: configIndexKey(nil, from), Limit: []byte{prefixConfigEntry + 1}}
}

func parseIndexKey(key []byte, prefix byte) (index uint64, ok bool) {
	if len(key) != indexKeyLen || key[0] != prefix {
		return 0, false
	}
	return binary.BigEndian.Uint64(key[1:]), true
}

// describeKey names the record a key holds, for error messages.
func describeKey(key []byte) string {
	if index, ok := parseEntryKey(key); ok {
		return fmt.Sprintf("entry %d", index)
	}
	if index, ok := parseConfigIndexKey(key); ok {
		return fmt.Sprintf("configuration index record %d", index)
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
