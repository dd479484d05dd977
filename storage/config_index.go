package storage

import (
	"fmt"

	"github.com/raftsidecar/raft/messages"
	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/util"
	"google.golang.org/protobuf/proto"
)

// The configuration index. Next to every configuration entry (type ENTRY_TYPE_CONFIG) of
// the log, LevelDB keeps a copy of it under a key of its own (prefixConfigEntry + index),
// so that Load finds the log's configuration entries by iterating over a handful of index
// keys instead of reading the whole log. The index changes only together with the log, in
// the same LevelDB batch: Write adds a record for every configuration entry it writes and
// deletes the records of the entries it truncates. An index record is sealed like the
// entry record (checksum over its own key and the payload) and holds the same payload,
// the whole marshalled entry.
//
// Open's verification (scan) checks that the index and the log agree exactly; Load checks
// each record it reads (checksum, key, index, type, inside the log).

// encodeConfigIndexDeletes adds to batch the deletion of every configuration index record
// that b's truncation removes: those of the entries at b.TruncateFrom and above, which b
// either deletes or overwrites. (The records of the configuration entries b writes are
// added next to the entries, in encode.) It reads the index as stored now, from s.db: the
// caller holds s.mu, so no other Write runs. An error reading it is returned as it is.
func (s *LevelDB) encodeConfigIndexDeletes(batch *leveldb.Batch, b *Batch) error {
	if b.TruncateFrom == 0 || b.TruncateFrom > s.cur.meta.last {
		return nil // nothing stored is truncated
	}
	it := s.db.NewIterator(configIndexRange(b.TruncateFrom), nil)
	defer it.Release()
	for it.Next() {
		if _, ok := parseConfigIndexKey(it.Key()); !ok {
			return corruptf(s.dir, "%s inside the configuration index", describeKey(it.Key()))
		}
		batch.Delete(it.Key()) // copies the key
	}
	if err := it.Error(); err != nil {
		return wrapErr(s.dir, "read configuration index", err)
	}
	return nil
}

// appendConfigIndexRecord adds to batch the configuration index record of the entry at
// index, given the entry's own record entryRec (stored under the entry's key): the same
// payload, sealed under the index key. entryRec is resealed in place; batch copies it.
func (s *LevelDB) appendConfigIndexRecord(batch *leveldb.Batch, index uint64, entryRec []byte) {
	s.keyBuf = configIndexKey(s.keyBuf, index)
	batch.Put(s.keyBuf, sealRecord(entryRec, s.keyBuf))
}

// loadConfigEntries reads the configuration entries from the index, for a log with bounds
// meta, checking every record.
func (s *LevelDB) loadConfigEntries(r reader, meta logMeta) ([]*messages.Entry, error) {
	var out []*messages.Entry
	it := r.NewIterator(util.BytesPrefix([]byte{prefixConfigEntry}), nil)
	defer it.Release()
	for it.Next() {
		index, ok := parseConfigIndexKey(it.Key())
		if !ok {
			return nil, corruptf(s.dir, "%s inside the configuration index", describeKey(it.Key()))
		}
		payload, err := openRecord(it.Key(), it.Value())
		if err != nil {
			return nil, corruptf(s.dir, "%v", err)
		}
		e, err := decodeConfigIndexRecord(index, payload)
		if err != nil {
			return nil, corruptf(s.dir, "%v", err)
		}
		if index < meta.first || index > meta.last {
			return nil, corruptf(s.dir, "configuration index record %d is outside the log (%v)", index, meta)
		}
		out = append(out, e)
	}
	if err := it.Error(); err != nil {
		return nil, wrapErr(s.dir, "read configuration index", err)
	}
	return out, nil
}

// decodeConfigIndexRecord decodes the payload of the configuration index record of the
// entry at index, and checks that it is a configuration entry with that index.
func decodeConfigIndexRecord(index uint64, payload []byte) (*messages.Entry, error) {
	e := &messages.Entry{}
	if err := proto.Unmarshal(payload, e); err != nil { // copies what it keeps
		return nil, fmt.Errorf("configuration index record %d undecodable: %v", index, err)
	}
	if e.GetIndex() != index {
		return nil, fmt.Errorf("configuration index record %d holds entry %d", index, e.GetIndex())
	}
	if e.GetType() != messages.EntryType_ENTRY_TYPE_CONFIG {
		return nil, fmt.Errorf("configuration index record %d holds an entry of type %v", index, e.GetType())
	}
	return e, nil
}

// configIndexCheck collects, during Open's verification (scan), the configuration entries
// of the log and the records of the configuration index, and then checks that they agree.
// Both are few: only configuration entries are decoded in full.
type configIndexCheck struct {
	entries []*messages.Entry // the log's configuration entries, in index order
	records []*messages.Entry // the index records' entries, in index order
}

// addEntry notes the configuration entry at index, whose record's payload is payload.
func (c *configIndexCheck) addEntry(index uint64, payload []byte) error {
	e := &messages.Entry{}
	if err := proto.Unmarshal(payload, e); err != nil { // copies what it keeps
		return fmt.Errorf("entry %d undecodable: %v", index, err)
	}
	c.entries = append(c.entries, e)
	return nil
}

// addRecord notes the configuration index record of the entry at index, whose payload is
// payload. Records must come in index order (as LevelDB iterates them).
func (c *configIndexCheck) addRecord(index uint64, payload []byte) error {
	e, err := decodeConfigIndexRecord(index, payload)
	if err != nil {
		return err
	}
	c.records = append(c.records, e)
	return nil
}

// check reports the first disagreement between the log's configuration entries and the
// index: an entry without a record, a record without an entry, or a record whose entry
// differs from the one in the log.
func (c *configIndexCheck) check() error {
	i, j := 0, 0
	for i < len(c.entries) || j < len(c.records) {
		switch {
		case j == len(c.records) || (i < len(c.entries) && c.entries[i].GetIndex() < c.records[j].GetIndex()):
			index := c.entries[i].GetIndex()
			return fmt.Errorf("configuration entry %d has no configuration index record %d", index, index)
		case i == len(c.entries) || c.records[j].GetIndex() < c.entries[i].GetIndex():
			index := c.records[j].GetIndex()
			return fmt.Errorf("configuration index record %d has no configuration entry %d", index, index)
		case !proto.Equal(c.entries[i], c.records[j]):
			return fmt.Errorf("configuration index record %d differs from configuration entry %d",
				c.records[j].GetIndex(), c.entries[i].GetIndex())
		}
		i++
		j++
	}
	return nil
}
