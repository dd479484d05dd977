// Package storage holds one node's durable Raft state: the log entries, the hard state
// (term and vote), the base configuration and the node's identity (cluster id and node id).
//
// The production implementation, LevelDB, keeps all of it in ONE LevelDB database per
// node (one data directory), and changes it only through atomic LevelDB batches
// (leveldb.Batch applied with one db.Write): every Batch given to Write becomes exactly one
// LevelDB batch, so a crash leaves either all of it or none of it. With Options.Sync each
// Write is fsynced before it returns, so a Write that returned nil survives a crash.
//
// One exception to "all of it in LevelDB": the data of large commands (1 KiB and more,
// in a batch carrying at least 64 KiB of them) is appended to value files in the same
// directory (values-<number>.dat), written and fsynced before the LevelDB batch that
// refers to it, so that it is written to disk once instead of twice (LevelDB writes
// everything to its journal and again to a table). The batch stays the unit of
// atomicity: a crash between the two leaves only bytes no record refers to, which Open
// cuts off with the space allocated ahead of the newest value file. See value_files.go.
//
// The database holds one record per log entry, under a key that sorts in log order, and a
// few singleton records (hard state, base configuration, identity, format version,
// metadata). Every configuration entry (type ENTRY_TYPE_CONFIG) is also copied into a
// configuration index, a record per configuration entry under a key range of its own,
// changed in the same batches as the log: Write adds the copies of the configuration
// entries it writes and deletes those of the entries it truncates.
//
// Entry keys sort after every other key, and the log's end is not recorded anywhere but
// in the entries: the last index and last term are those of the last entry stored, found
// with one seek to the end of the entry keys. The metadata record holds only the index
// of the first entry, written when it changes (when the store is created; no Batch
// changes it for now). So a Write that only appends entries, the usual one, writes keys
// above every key stored, and nothing else. LevelDB's compactions are then nearly free:
// each table written from the memtable overlaps no older table, and is moved down the
// levels without being read or rewritten. (Were any other record rewritten in every
// batch, or did any sort after the entries, every table would overlap an older one, and
// compactions would read and rewrite all the log appended at least once more.) A Write
// that also changes another record (a hard state, a configuration entry's index record)
// makes a table spanning from that record's key to its entries, which overlaps the older
// tables: compacting it merges it with them, up to a level's worth (100 MiB in
// goleveldb's level 1). That cost is paid for that table alone, as no later table
// overlaps it, and such Writes are rare (a new term or vote, a configuration change).
//
// Every stored value carries a CRC32-Castagnoli checksum over its key and payload, verified
// whenever the value is read; so does the data in a value file (in the reference to it). Load costs a handful of point reads, the seek to the last
// entry and a walk over the configuration index (State.ConfigEntries), however long the
// log is. Open checks that the entries run without a gap, with non-decreasing terms, from
// the first index the metadata record names to the last entry stored, and that the
// configuration index agrees with the configuration entries, and that every value file
// an entry refers to exists and holds the bytes referred to. (Nothing records where the
// log ends but the entries themselves, so a log that lost its last entries, and nothing
// else, cannot be told from a shorter one.) Damage found anywhere, by LevelDB or by these
// checks, is reported as an error wrapping ErrCorrupt whose message names the directory:
// the store never serves an empty or shortened log in place of a damaged one.
//
// The space of LevelDB's journal is allocated ahead of its writes (fewer sync stalls), so a
// crash leaves the newest journal followed by zero bytes: they hold nothing, the journal is
// read as if it ended before them, and opening the store for writing cuts them off.
//
// With one exception, the only damage a crash itself can cause: a Write interrupted by a
// crash (a killed process, lost power) can leave the end of LevelDB's newest journal file
// torn, ending inside that Write's batch (possibly followed by zero bytes). That Write
// never returned, so Open repairs exactly this and nothing else: when everything after the
// last complete, checksum-valid record of the newest journal is an incomplete record
// (possibly followed by zero bytes), Open keeps a copy of the journal (<journal>.torn-<unix nanoseconds>), cuts the
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
