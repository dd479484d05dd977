// Package storage holds one node's durable Raft state: the log entries, the hard state
// (term and vote), the base configuration and the node's identity (cluster id and node id).
//
// The production implementation, LevelDB, keeps all of it in ONE LevelDB database per
// node (one data directory), and changes it only through atomic LevelDB batches
// (leveldb.Batch applied with one db.Write): every Batch given to Write becomes exactly one
// LevelDB batch, so a crash leaves either all of it or none of it. With Options.Sync each
// Write is fsynced before it returns, so a Write that returned nil survives a crash.
//
// The database holds one record per log entry, under a key that sorts in log order, and a
// few singleton records (hard state, base configuration, identity, format version,
// metadata). Every configuration entry (type ENTRY_TYPE_CONFIG) is also copied into a
// configuration index, a record per configuration entry under a key range of its own,
// changed in the same batches as the log: Write adds the copies of the configuration
// entries it writes and deletes those of the entries it truncates.
//
// Every stored value carries a CRC32-Castagnoli checksum over its key and payload, verified
// whenever the value is read. A metadata record (first index, last index, last term) is
// rewritten in every batch, so Load costs a handful of point reads and a walk over the
// configuration index (State.ConfigEntries), however long the log is. Open checks the
// metadata against the entries actually stored, and the configuration index against the
// configuration entries. Damage found anywhere, by LevelDB or by these checks, is
// reported as an error wrapping ErrCorrupt whose message names the directory: the store
// never serves an empty or shortened log in place of a damaged one.
//
// With one exception, the only damage a crash itself can cause: a Write interrupted by a
// crash (a killed process, lost power) can leave the end of LevelDB's newest journal file
// torn, ending inside that Write's batch or followed by zero bytes. That Write never
// returned, so Open repairs exactly this and nothing else: when everything after the last
// complete, checksum-valid record of the newest journal is an incomplete record (or zero
// bytes), Open keeps a copy of the journal (<journal>.torn-<unix nanoseconds>), cuts the
// journal after that record, says so (Options.Logger, LevelDB.Repaired) and opens the
// store. Damage in an older journal, damage followed by further records, and a complete
// final record whose checksum does not match stay ErrCorrupt. A journal cut short inside
// an acknowledged batch by something other than a crash cannot be told from a torn tail,
// and is repaired the same way; the copy keeps what was cut.
//
// Memory is an in-memory implementation with the same validation semantics, for tests and
// the deterministic simulator.
//
// Both implementations reject an invalid Batch before changing anything, with an error
// wrapping ErrInvalidBatch that says what is wrong (see Batch for the rules).
package storage
