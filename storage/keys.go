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
//
// Entry keys sort after every other key: their prefix, 0xFF, is the highest byte there
// is, so no record kind added later can sort after them either. That keeps LevelDB's
// compactions nearly free while the log grows. A batch that only appends entries writes
// keys above every key already stored, so each table LevelDB writes from its memtable
// holds keys above those of all older tables and overlaps none of them; such a table is
// moved down the levels without being read or rewritten. A table that also holds another
// record (a hard state, a configuration index record, ...) spans from that record's key
// to its last entry, and so overlaps older tables, but no later one: all later entries
// sort above it. Were entries to sort before some record kind, a table holding such a
// record would span from its first entry to that record, and every later table of
// appended entries would overlap it, and be merged with it, again and again.
const (
	prefixEntry       byte = 0xFF  // 0xFF + index (8 bytes, big-endian) -> Entry; sorts last
	prefixConfigEntry byte = 'k'   // 'k' + index (8 bytes, big-endian) -> Entry (a copy of a configuration entry)
	indexKeyLen            = 1 + 8 // length of entry and configuration index keys
)

var (
	keyMeta      = []byte{'m'} // first index (the log's end is that of the entries stored)
	keyHardState = []byte{'h'} // messages.HardState
	keyConfig    = []byte{'c'} // messages.Configuration (the base configuration)
	keyIdentity  = []byte{'i'} // Identity
	keyFormat    = []byte{'v'} // format version of the store
)

// entryRange is the range of the keys that start with the entry prefix: every entry key
// (and any malformed key there, which readers report).
func entryRange() *util.Range {
	return util.BytesPrefix([]byte{prefixEntry})
}

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
