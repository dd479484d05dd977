package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/raftsidecar/raft/messages"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// Value encoding. Every value is a record: a 4-byte little-endian CRC32-Castagnoli
// checksum followed by the payload. The checksum covers the key and then the payload, so
// a value that ends up under another key is caught as well as flipped bits. Payloads are
// protobuf: messages from package messages are proto.Marshal'ed; the few records of this
// package's own (metadata, identity, format) are written with protowire in the same wire
// format, so they can gain fields the same way.

const checksumLen = 4

// formatVersion is the layout written by this package; Open refuses any other. Version 2
// added the configuration index (see prefixConfigEntry). Version 3 moved the entry keys
// after all others (see prefixEntry) and reduced the metadata record to the first index,
// written only when it changes: the log's last index and last term are those of the last
// entry stored.
const formatVersion = 3

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func checksum(key, payload []byte) uint32 {
	return crc32.Update(crc32.Checksum(key, castagnoli), castagnoli, payload)
}

// appendProtoRecord appends to dst[:0] the record of m stored under key, marshalling m
// straight into place after the checksum, and returns it.
func appendProtoRecord(dst, key []byte, m proto.Message) ([]byte, error) {
	dst = append(dst[:0], 0, 0, 0, 0)
	dst, err := proto.MarshalOptions{}.MarshalAppend(dst, m)
	if err != nil {
		return nil, err
	}
	return sealRecord(dst, key), nil
}

// sealRecord writes the checksum of rec's payload (rec[checksumLen:]) into rec's header.
func sealRecord(rec, key []byte) []byte {
	binary.LittleEndian.PutUint32(rec, checksum(key, rec[checksumLen:]))
	return rec
}

// openRecord verifies the checksum of value, stored under key, and returns its payload
// (a sub-slice of value).
func openRecord(key, value []byte) ([]byte, error) {
	if len(value) < checksumLen {
		return nil, fmt.Errorf("%s record too short (%d bytes)", describeKey(key), len(value))
	}
	if binary.LittleEndian.Uint32(value) != checksum(key, value[checksumLen:]) {
		return nil, fmt.Errorf("%s checksum mismatch", describeKey(key))
	}
	return value[checksumLen:], nil
}

// logMeta is the bounds of a log. first is the index of the first entry (1 for now, also
// when the log is empty), the only one of them the metadata record holds; last and
// lastTerm are the index and term of the last entry stored. An empty log has last
// first-1 (0 for now) and lastTerm 0.
type logMeta struct {
	first, last, lastTerm uint64
}

func (m logMeta) String() string {
	return fmt.Sprintf("first %d, last %d, last term %d", m.first, m.last, m.lastTerm)
}

// emptyLog returns the bounds of an empty log starting at first.
func emptyLog(first uint64) logMeta {
	return logMeta{first: first, last: first - 1}
}

// appendMetaRecord appends to dst[:0] the metadata record of a log starting at first and
// returns it.
func appendMetaRecord(dst []byte, first uint64) []byte {
	dst = append(dst[:0], 0, 0, 0, 0)
	dst = appendVarintField(dst, 1, first)
	return sealRecord(dst, keyMeta)
}

// decodeMeta returns the first index a metadata record's payload holds, or an error that
// says what is wrong with the record. (The records of format version 2 held the last index
// and last term too, as fields 2 and 3; Open refuses such stores before reading them.)
func decodeMeta(payload []byte) (first uint64, err error) {
	err = decodeVarints(payload, func(num protowire.Number, v uint64) {
		if num == 1 {
			first = v
		}
	})
	switch {
	case err != nil:
		return 0, fmt.Errorf("metadata record undecodable: %v", err)
	case first == 0:
		return 0, errors.New("metadata record impossible: first index 0")
	}
	return first, nil
}

// appendIdentityRecord appends to dst[:0] the identity record of id and returns it.
func appendIdentityRecord(dst []byte, id Identity) []byte {
	dst = append(dst[:0], 0, 0, 0, 0)
	dst = protowire.AppendTag(dst, 1, protowire.BytesType)
	dst = protowire.AppendString(dst, id.ClusterID)
	dst = appendVarintField(dst, 2, id.NodeID)
	return sealRecord(dst, keyIdentity)
}

func decodeIdentity(payload []byte) (Identity, error) {
	var id Identity
	for len(payload) > 0 {
		num, typ, n := protowire.ConsumeTag(payload)
		if n < 0 {
			return Identity{}, protowire.ParseError(n)
		}
		payload = payload[n:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			s, n := protowire.ConsumeString(payload)
			if n < 0 {
				return Identity{}, protowire.ParseError(n)
			}
			id.ClusterID = s
			payload = payload[n:]
		case num == 2 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(payload)
			if n < 0 {
				return Identity{}, protowire.ParseError(n)
			}
			id.NodeID = v
			payload = payload[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, payload)
			if n < 0 {
				return Identity{}, protowire.ParseError(n)
			}
			payload = payload[n:]
		}
	}
	return id, nil
}

// appendFormatRecord appends to dst[:0] the format record and returns it.
func appendFormatRecord(dst []byte) []byte {
	dst = append(dst[:0], 0, 0, 0, 0)
	dst = appendVarintField(dst, 1, formatVersion)
	return sealRecord(dst, keyFormat)
}

func decodeFormat(payload []byte) (uint64, error) {
	var version uint64
	err := decodeVarints(payload, func(num protowire.Number, v uint64) {
		if num == 1 {
			version = v
		}
	})
	return version, err
}

// entryIndexTerm reads the index and term fields of a marshalled messages.Entry without
// decoding (and copying) the rest of it.
func entryIndexTerm(payload []byte) (index, term uint64, err error) {
	h, err := decodeEntryHeader(payload)
	return h.index, h.term, err
}

// entryHeader is the scalar fields of a messages.Entry: all but its data and config.
type entryHeader struct {
	index, term uint64
	typ         messages.EntryType
}

// decodeEntryHeader reads the index, term and type fields of a marshalled messages.Entry
// without decoding (and copying) the rest of it.
func decodeEntryHeader(payload []byte) (entryHeader, error) {
	var h entryHeader
	err := decodeVarints(payload, func(num protowire.Number, v uint64) {
		switch num {
		case 1: // Entry.index
			h.index = v
		case 2: // Entry.term
			h.term = v
		case 3: // Entry.type, an enum: an int32 varint, truncated as proto.Unmarshal does
			h.typ = messages.EntryType(int32(v))
		}
	})
	return h, err
}

func appendVarintField(dst []byte, num protowire.Number, v uint64) []byte {
	dst = protowire.AppendTag(dst, num, protowire.VarintType)
	return protowire.AppendVarint(dst, v)
}

var errWireType = errors.New("unexpected wire type")

// decodeVarints walks the fields of a protobuf payload, calling fn for every varint field
// and skipping the others. Fields 1 to 3 of the records read with it are all varints (or,
// for the entry's data and config, not in that range), so another wire type there is an
// error.
func decodeVarints(payload []byte, fn func(num protowire.Number, v uint64)) error {
	for len(payload) > 0 {
		num, typ, n := protowire.ConsumeTag(payload)
		if n < 0 {
			return protowire.ParseError(n)
		}
		payload = payload[n:]
		if typ == protowire.VarintType {
			v, n := protowire.ConsumeVarint(payload)
			if n < 0 {
				return protowire.ParseError(n)
			}
			fn(num, v)
			payload = payload[n:]
			continue
		}
		if num <= 3 {
			return fmt.Errorf("field %d: %w %d", num, errWireType, typ)
		}
		n = protowire.ConsumeFieldValue(num, typ, payload)
		if n < 0 {
			return protowire.ParseError(n)
		}
		payload = payload[n:]
	}
	return nil
}
