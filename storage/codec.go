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

// formatVersion is the layout written by this package; Open refuses any other but
// previousFormatVersion. Version 2 added the configuration index (see
// prefixConfigEntry). Version 3 moved the entry keys after all others (see prefixEntry)
// and reduced the metadata record to the first index, written only when it changes: the
// log's last index and last term are those of the last entry stored. Version 4 added
// references to value files (see value_files.go); a store of version 3 holds none, so
// Open accepts it and marks it version 4.
const formatVersion = 4

// previousFormatVersion is the one older version Open accepts (see formatVersion).
const previousFormatVersion = 3

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

// entryValueField is the field number, in the payload of an entry record, of the
// reference to the entry's data in a value file (see value_files.go). messages.Entry has
// no such field. A record holding one has it as its last field, and no data field: index,
// term and type come first, as in any entry record, so decodeEntryHeader reads them
// alike (it skips the reference as an unknown field).
const entryValueField protowire.Number = 1000

// dataInValueFile tells whether e's data can go to a value file (it does when its batch
// carries enough such data): a command entry whose data is at least valueMinSize long,
// and that has nothing else but its index, term and type.
func dataInValueFile(e *messages.Entry) bool {
	return e.GetType() == messages.EntryType_ENTRY_TYPE_COMMAND && len(e.GetData()) >= valueMinSize &&
		e.GetConfig() == nil && len(e.ProtoReflect().GetUnknown()) == 0
}

// valueBatchSize is the data length of the entries of es that can go to a value file.
func valueBatchSize(es []*messages.Entry) int {
	n := 0
	for _, e := range es {
		if dataInValueFile(e) {
			n += len(e.GetData())
		}
	}
	return n
}

// appendSeparatedEntryRecord encodes the record of e, whose data is at ref, into dst
// (reusing its storage): e's index, term and type, then the reference.
func appendSeparatedEntryRecord(dst, key []byte, e *messages.Entry, ref valueRef) []byte {
	dst = append(dst[:0], 0, 0, 0, 0)
	dst = appendVarintField(dst, 1, e.GetIndex())
	if e.GetTerm() != 0 {
		dst = appendVarintField(dst, 2, e.GetTerm())
	}
	if e.GetType() != 0 {
		dst = appendVarintField(dst, 3, uint64(e.GetType()))
	}
	dst = protowire.AppendTag(dst, entryValueField, protowire.BytesType)
	size := protowire.SizeVarint(ref.file) + protowire.SizeVarint(uint64(ref.offset)) +
		protowire.SizeVarint(uint64(ref.length)) + 4
	dst = protowire.AppendVarint(dst, uint64(size))
	dst = protowire.AppendVarint(dst, ref.file)
	dst = protowire.AppendVarint(dst, uint64(ref.offset))
	dst = protowire.AppendVarint(dst, uint64(ref.length))
	dst = binary.LittleEndian.AppendUint32(dst, ref.sum)
	return sealRecord(dst, key)
}

// splitValueRef splits the payload of an entry record into the entry's own fields and
// the reference to its data in a value file; separated is false (and body the whole
// payload) when the record holds its data itself.
func splitValueRef(payload []byte) (body []byte, ref valueRef, separated bool, err error) {
	for rest := payload; len(rest) > 0; {
		start := len(payload) - len(rest)
		num, typ, n := protowire.ConsumeTag(rest)
		if n < 0 {
			return nil, valueRef{}, false, protowire.ParseError(n)
		}
		if num != entryValueField {
			m := protowire.ConsumeFieldValue(num, typ, rest[n:])
			if m < 0 {
				return nil, valueRef{}, false, protowire.ParseError(m)
			}
			rest = rest[n+m:]
			continue
		}
		if typ != protowire.BytesType {
			return nil, valueRef{}, false, fmt.Errorf("value reference: %w %d", errWireType, typ)
		}
		encoded, m := protowire.ConsumeBytes(rest[n:])
		switch {
		case m < 0:
			return nil, valueRef{}, false, protowire.ParseError(m)
		case n+m != len(rest):
			return nil, valueRef{}, false, errors.New("value reference is not the record's last field")
		}
		ref, err := decodeValueRef(encoded)
		if err != nil {
			return nil, valueRef{}, false, fmt.Errorf("value reference: %v", err)
		}
		return payload[:start], ref, true, nil
	}
	return payload, valueRef{}, false, nil
}

// maxValueLength bounds the length a reference may give, so that a damaged one cannot
// make a read allocate without limit. No command is this long.
const maxValueLength = 1 << 30

// decodeValueRef decodes what appendSeparatedEntryRecord encodes of a reference.
func decodeValueRef(b []byte) (valueRef, error) {
	var vals [3]uint64
	for i := range vals {
		v, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return valueRef{}, protowire.ParseError(n)
		}
		vals[i], b = v, b[n:]
	}
	if len(b) != 4 {
		return valueRef{}, fmt.Errorf("%d bytes after the length, want 4", len(b))
	}
	ref := valueRef{file: vals[0], offset: int64(vals[1]), length: int64(vals[2]), sum: binary.LittleEndian.Uint32(b)}
	switch {
	case ref.file == 0:
		return valueRef{}, errors.New("value file number 0")
	case ref.offset < 0 || ref.length < 0 || ref.length > maxValueLength || ref.offset+ref.length < ref.offset:
		return valueRef{}, fmt.Errorf("impossible extent: offset %d, length %d", vals[1], vals[2])
	}
	return ref, nil
}
