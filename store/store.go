// Package store keeps flinkdrop's sessions in a bbolt database: every step
// of a session is one transaction, checked against the state machine, so a
// crash at any moment leaves the last completed step on disk.
package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// SchemaVersion is the database layout this build writes.
const SchemaVersion = 3

// minReadOnlyVersion is the oldest schema a read-only open accepts without
// migrating. Readers do without the unfinished index (version 2) by walking
// every session, so version 1 files read fine; a migration that changes the
// session records themselves must raise this.
const minReadOnlyVersion = 1

// Defaults for Options.
const (
	DefaultTimeout   = time.Second
	DefaultRetention = 720 * time.Hour
)

var (
	bucketMeta     = []byte("meta")
	bucketSessions = []byte("sessions")
	bucketTaken    = []byte("taken")
	// bucketUnfinished indexes the sessions not done: id → state. It is
	// kept in the same transaction as every state change, so reading the
	// unfinished sessions never walks the finished ones kept for retention.
	bucketUnfinished = []byte("unfinished")
	// bucketDone indexes the done sessions by when they finished: 8 bytes
	// of big-endian Unix nanoseconds, then the id. Prune reads it up to
	// the cutoff instead of walking every session.
	bucketDone = []byte("done_by_time")
	keyVersion = []byte("schema_version")
)

// Options tune Open. The zero value means the defaults.
type Options struct {
	// Timeout is how long Open waits for the file lock (default 1s).
	Timeout time.Duration
	// Retention is how long Prune keeps done sessions (default 720h).
	Retention time.Duration
	// Hook, when set, is called with "store-tx:<state>" inside every write
	// transaction, before it commits: a crash test kills the process there to
	// lose exactly that transaction.
	Hook func(point string)

	// paths overrides how the taken index compares paths (tests only; the
	// zero value follows the platform).
	paths pathCase
}

// Store is the session database. It is safe for concurrent use.
type Store struct {
	db        *bolt.DB
	path      string
	retention time.Duration
	hook      func(string)
	readOnly  bool
	// fold is true when the taken index is keyed by case-folded paths
	// (Windows).
	fold bool
}

// takenKey is path's key in the taken index.
func (s *Store) takenKey(path string) []byte {
	return []byte(foldPath(path, s.fold))
}

// migration moves a database from one schema version to the next, inside
// one transaction. fold is true when the taken index is keyed by
// case-folded paths.
type migration func(tx *bolt.Tx, fold bool) error

// migrations returns the steps: step i migrates version i to i+1, so the
// current version is len(migrations()).
func migrations() []migration {
	return []migration{
		migrateV0toV1,
		migrateV1toV2,
		migrateV2toV3,
	}
}

// migrateV0toV1 brings a database without a meta bucket (new, or from
// before schema versions) to version 1: it creates the buckets and rebuilds
// the taken index from the unfinished sessions.
func migrateV0toV1(tx *bolt.Tx, fold bool) error {
	for _, name := range [][]byte{bucketMeta, bucketSessions} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	return rebuildTaken(tx, fold)
}

// migrateV2toV3 rebuilds the taken index keyed by foldPath: versions up to
// 2 keyed it by the exact path, so on Windows a folder renamed only in case
// was not recognised as taken and its files were uploaded again.
func migrateV2toV3(tx *bolt.Tx, fold bool) error {
	return rebuildTaken(tx, fold)
}

// rebuildTaken replaces the taken index with one built from the unfinished
// sessions' paths.
func rebuildTaken(tx *bolt.Tx, fold bool) error {
	if tx.Bucket(bucketTaken) != nil {
		if err := tx.DeleteBucket(bucketTaken); err != nil {
			return fmt.Errorf("reset taken index: %w", err)
		}
	}
	taken, err := tx.CreateBucket(bucketTaken)
	if err != nil {
		return fmt.Errorf("create taken index: %w", err)
	}
	return tx.Bucket(bucketSessions).ForEach(func(k, v []byte) error {
		var s Session
		if err := json.Unmarshal(v, &s); err != nil {
			return fmt.Errorf("session %s: %w", k, err)
		}
		if s.State == StateDone {
			return nil
		}
		for _, p := range s.Paths() {
			key := []byte(foldPath(p, fold))
			if taken.Get(key) != nil {
				// Two unfinished sessions hold paths that differ only in
				// case (made before keys were folded). The older one keeps
				// the key; the newer one's release then leaves it in place.
				continue
			}
			if err := taken.Put(key, []byte(s.ID)); err != nil {
				return err
			}
		}
		return nil
	})
}

// migrateV1toV2 builds the unfinished index and the done-by-time index
// from the session records.
func migrateV1toV2(tx *bolt.Tx, _ bool) error {
	var idx [2]*bolt.Bucket
	for i, name := range [][]byte{bucketUnfinished, bucketDone} {
		if tx.Bucket(name) != nil {
			if err := tx.DeleteBucket(name); err != nil {
				return fmt.Errorf("reset index %s: %w", name, err)
			}
		}
		b, err := tx.CreateBucket(name)
		if err != nil {
			return fmt.Errorf("create index %s: %w", name, err)
		}
		idx[i] = b
	}
	unfinished, done := idx[0], idx[1]
	return tx.Bucket(bucketSessions).ForEach(func(k, v []byte) error {
		h, err := decodeHead(k, v)
		if err != nil {
			return err
		}
		if h.State == StateDone {
			return done.Put(doneKey(h.Times.Done, h.Times.Reported, string(k)), nil)
		}
		return unfinished.Put(bytes.Clone(k), []byte(h.State))
	})
}

// doneKey is a session's key in the done-by-time index: when it finished
// (done, or reported for a session done without a done time; zero sorts
// first) and its id.
func doneKey(done, reported time.Time, id string) []byte {
	end := done
	if end.IsZero() {
		end = reported
	}
	return append(timeKey(end), id...)
}

// timeKey is t as 8 big-endian bytes of Unix nanoseconds; the zero time and
// times before 1970 are 0.
func timeKey(t time.Time) []byte {
	var n uint64
	if !t.IsZero() && t.UnixNano() > 0 {
		n = uint64(t.UnixNano())
	}
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8+30), n)
}

// Open opens (creating if needed) the database at path and migrates it to
// the current schema version. A second opener gets ErrLocked after
// Options.Timeout; a damaged file gets ErrCorrupt and is left untouched.
func Open(path string, opts Options) (*Store, error) {
	return open(path, opts, false, migrations())
}

// OpenReadOnly opens the database for reading only (flinkdrop status while
// the daemon is stopped). It never migrates or writes.
func OpenReadOnly(path string, timeout time.Duration) (*Store, error) {
	return open(path, Options{Timeout: timeout}, true, migrations())
}

func open(path string, opts Options, readOnly bool, steps []migration) (st *Store, err error) {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	if readOnly {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("store: open %s read-only: %w (the daemon has not created it yet: check state_dir)", path, err)
		}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.Timeout, ReadOnly: readOnly})
	if err != nil {
		return nil, openError(path, err)
	}
	st = &Store{db: db, path: path, retention: opts.Retention, hook: opts.Hook, readOnly: readOnly, fold: opts.paths.fold()}
	defer func() {
		if err != nil {
			_ = db.Close()
			st = nil
		}
	}()
	// A damaged page can make bbolt panic while reading it: report that as
	// corruption instead of crashing the daemon.
	defer func() {
		if r := recover(); r != nil {
			err = corruptError(path, fmt.Errorf("%v", r))
		}
	}()
	if readOnly {
		err = db.View(func(tx *bolt.Tx) error { return checkVersion(tx, len(steps), true) })
	} else {
		err = db.Update(func(tx *bolt.Tx) error { return migrate(tx, steps, st.fold) })
	}
	if err != nil {
		if errors.Is(err, ErrNewerSchema) || errors.Is(err, ErrCorrupt) {
			return nil, fmt.Errorf("store: open %s: %w", path, err)
		}
		return nil, corruptError(path, err)
	}
	return st, nil
}

func openError(path string, err error) error {
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return fmt.Errorf("store: %w: %s is held by another flinkdrop (stop it, or give this one another state_dir)", ErrLocked, path)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch),
		errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrInvalidMapping):
		return corruptError(path, err)
	}
	return fmt.Errorf("store: open %s: %w (check that state_dir exists and is writable by the service account)", path, err)
}

func corruptError(path string, cause error) error {
	return fmt.Errorf("store: open %s: %w (%v): move the file aside and restore it from a backup, or start with an empty state_dir; flinkdrop never wipes it", path, ErrCorrupt, cause)
}

func readVersion(tx *bolt.Tx) (int, error) {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return 0, nil
	}
	v := meta.Get(keyVersion)
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: schema_version has %d bytes, want 8", ErrCorrupt, len(v))
	}
	return int(binary.BigEndian.Uint64(v)), nil
}

func checkVersion(tx *bolt.Tx, current int, readOnly bool) error {
	v, err := readVersion(tx)
	if err != nil {
		return err
	}
	if v > current {
		return fmt.Errorf("%w: the file has version %d, this flinkdrop knows up to %d (run the newer flinkdrop, or restore a backup made for this one)", ErrNewerSchema, v, current)
	}
	if readOnly && v < minReadOnlyVersion && tx.Bucket(bucketSessions) != nil && v != 0 {
		return fmt.Errorf("%w: version %d needs migrating to %d (start the daemon once)", ErrCorrupt, v, current)
	}
	return nil
}

func migrate(tx *bolt.Tx, steps []migration, fold bool) error {
	if err := checkVersion(tx, len(steps), false); err != nil {
		return err
	}
	v, _ := readVersion(tx)
	for ; v < len(steps); v++ {
		if err := steps[v](tx, fold); err != nil {
			return fmt.Errorf("migrate schema %d to %d: %w", v, v+1, err)
		}
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(v+1))
		if err := meta.Put(keyVersion, b[:]); err != nil {
			return err
		}
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Path returns the database file.
func (s *Store) Path() string { return s.path }

// Version returns the schema version stored in the database.
func (s *Store) Version() (int, error) {
	var v int
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		v, err = readVersion(tx)
		return err
	})
	return v, err
}

// update runs fn in a write transaction and calls the hook with point
// before it commits.
func (s *Store) update(point string, fn func(tx *bolt.Tx) error) error {
	if s.readOnly {
		return ErrReadOnly
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		if s.hook != nil {
			s.hook("store-tx:" + point)
		}
		return nil
	})
}

// Create records a new session in state taken with all its files pending,
// and marks its paths taken, in one transaction. An empty ID is filled
// with NewID(FirstSeen). It returns the session as stored.
func (s *Store) Create(sess Session) (Session, error) {
	sess = sess.Clone()
	if sess.ID == "" {
		sess.ID = NewID(sess.Times.FirstSeen)
	}
	sess.State = StateTaken
	for i := range sess.Files {
		if sess.Files[i].State == "" {
			sess.Files[i].State = FilePending
		}
		if sess.Files[i].State != FilePending {
			return Session{}, fmt.Errorf("store: create %s: file %s is %s, want pending: %w", sess.ID, sess.Files[i].Name, sess.Files[i].State, ErrIllegalTransition)
		}
	}
	data, err := json.Marshal(&sess)
	if err != nil {
		return Session{}, fmt.Errorf("store: create %s: %w", sess.ID, err)
	}
	err = s.update(string(StateTaken), func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSessions)
		if b.Get([]byte(sess.ID)) != nil {
			return fmt.Errorf("session id %s exists", sess.ID)
		}
		taken := tx.Bucket(bucketTaken)
		for _, p := range sess.Paths() {
			key := s.takenKey(p)
			if other := taken.Get(key); other != nil {
				if string(other) == sess.ID {
					continue // two of its own paths that differ only in case
				}
				return fmt.Errorf("%w: %s (session %s)", ErrTaken, p, other)
			}
			if err := taken.Put(key, []byte(sess.ID)); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bucketUnfinished).Put([]byte(sess.ID), []byte(sess.State)); err != nil {
			return err
		}
		return b.Put([]byte(sess.ID), data)
	})
	if err != nil {
		return Session{}, fmt.Errorf("store: create %s: %w", sess.ID, err)
	}
	return sess, nil
}

// Get returns the session with the given id.
func (s *Store) Get(id string) (Session, error) {
	var sess Session
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		sess, err = getSession(tx, id)
		return err
	})
	if err != nil {
		return Session{}, fmt.Errorf("store: get %s: %w", id, err)
	}
	return sess, nil
}

func getSession(tx *bolt.Tx, id string) (Session, error) {
	b := tx.Bucket(bucketSessions)
	if b == nil {
		return Session{}, ErrNotFound
	}
	v := b.Get([]byte(id))
	if v == nil {
		return Session{}, ErrNotFound
	}
	return decodeSession([]byte(id), v)
}

// Update applies fn to a copy of the session and stores the result in one
// transaction, after checking the state and every file's state against the
// state machine. fn sets the new State (leaving it unchanged is an update in
// place, legal where the table allows it). Reaching done releases the
// session's taken paths in the same transaction. It returns the session as
// stored; on any error nothing is written.
func (s *Store) Update(id string, fn func(*Session) error) (Session, error) {
	if s.readOnly {
		return Session{}, fmt.Errorf("store: update %s: %w", id, ErrReadOnly)
	}
	var next Session
	var to State
	err := s.db.Update(func(tx *bolt.Tx) error {
		old, err := getSession(tx, id)
		if err != nil {
			return err
		}
		next = old.Clone()
		if err := fn(&next); err != nil {
			return err
		}
		to = next.State
		if err := checkTransition(&old, &next); err != nil {
			return err
		}
		data, err := json.Marshal(&next)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketSessions).Put([]byte(id), data); err != nil {
			return err
		}
		switch {
		case next.State == StateDone:
			taken := tx.Bucket(bucketTaken)
			for _, p := range old.Paths() {
				key := s.takenKey(p)
				if string(taken.Get(key)) == id {
					if err := taken.Delete(key); err != nil {
						return err
					}
				}
			}
			if err := tx.Bucket(bucketUnfinished).Delete([]byte(id)); err != nil {
				return err
			}
			if err := tx.Bucket(bucketDone).Put(doneKey(next.Times.Done, next.Times.Reported, id), nil); err != nil {
				return err
			}
		case next.State != old.State:
			if err := tx.Bucket(bucketUnfinished).Put([]byte(id), []byte(next.State)); err != nil {
				return err
			}
		}
		if s.hook != nil {
			s.hook("store-tx:" + string(to))
		}
		return nil
	})
	if err != nil {
		return Session{}, fmt.Errorf("store: update %s to %s: %w", id, to, err)
	}
	return next, nil
}

// IsTaken reports whether path (a file or a marker) belongs to an
// unfinished session. On Windows the match ignores case, as the file
// system does: a folder renamed only in case is still taken.
func (s *Store) IsTaken(path string) (bool, error) {
	var ok bool
	err := s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketTaken); b != nil {
			ok = b.Get(s.takenKey(path)) != nil
		}
		return nil
	})
	return ok, err
}

// head is the part of a session record that counting and pruning read.
// Decoding only it skips the files and the fraud documents.
type head struct {
	State   State  `json:"state"`
	Outcome string `json:"outcome"`
	Times   struct {
		FirstSeen time.Time `json:"first_seen"`
		Reported  time.Time `json:"reported"`
		Done      time.Time `json:"done"`
	} `json:"times"`
}

func decodeHead(k, v []byte) (head, error) {
	var h head
	if err := json.Unmarshal(v, &h); err != nil {
		return head{}, fmt.Errorf("%w: session %s: %v", ErrCorrupt, k, err)
	}
	return h, nil
}

func decodeSession(k, v []byte) (Session, error) {
	var sess Session
	if err := json.Unmarshal(v, &sess); err != nil {
		return Session{}, fmt.Errorf("%w: session %s: %v", ErrCorrupt, k, err)
	}
	return sess, nil
}

// Unfinished returns every session not done, oldest first. It reads the
// unfinished index and those sessions' records only.
func (s *Store) Unfinished() ([]Session, error) {
	out, _, err := s.UnfinishedFirst(0)
	return out, err
}

// UnfinishedFirst returns the n oldest sessions not done (all of them when
// n <= 0) and how many sessions are not done in all. It decodes only the
// sessions it returns.
func (s *Store) UnfinishedFirst(n int) ([]Session, int, error) {
	var out []Session
	total := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		sessions, idx := tx.Bucket(bucketSessions), tx.Bucket(bucketUnfinished)
		if sessions == nil {
			return nil
		}
		take := func(k, v []byte) error {
			total++
			if n > 0 && len(out) == n {
				return nil
			}
			sess, err := decodeSession(k, v)
			if err != nil {
				return err
			}
			out = append(out, sess)
			return nil
		}
		if idx == nil {
			// A version 1 file opened read-only: no index, so walk.
			return sessions.ForEach(func(k, v []byte) error {
				h, err := decodeHead(k, v)
				if err != nil || h.State == StateDone {
					return err
				}
				return take(k, v)
			})
		}
		return idx.ForEach(func(k, _ []byte) error {
			v := sessions.Get(k)
			if v == nil {
				return fmt.Errorf("%w: the unfinished index names session %s, which has no record", ErrCorrupt, k)
			}
			return take(k, v)
		})
	})
	if err != nil {
		return nil, 0, fmt.Errorf("store: list unfinished: %w", err)
	}
	return out, total, nil
}

// Counts returns the number of sessions in each state, done included until
// pruned. It reads the unfinished index and the size of the sessions
// bucket, never the records (except on a version 1 file opened read-only).
func (s *Store) Counts() (map[State]int, error) {
	counts := map[State]int{}
	err := s.db.View(func(tx *bolt.Tx) error {
		sessions, idx := tx.Bucket(bucketSessions), tx.Bucket(bucketUnfinished)
		if sessions == nil {
			return nil
		}
		if idx == nil {
			return sessions.ForEach(func(k, v []byte) error {
				h, err := decodeHead(k, v)
				if err == nil {
					counts[h.State]++
				}
				return err
			})
		}
		unfinished := 0
		err := idx.ForEach(func(_, v []byte) error {
			counts[State(v)]++
			unfinished++
			return nil
		})
		if err != nil {
			return err
		}
		if done := sessions.Stats().KeyN - unfinished; done > 0 {
			counts[StateDone] = done
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: count sessions: %w", err)
	}
	return counts, nil
}

// Retention returns how long Prune keeps done sessions.
func (s *Store) Retention() time.Duration { return s.retention }

// Prune deletes done sessions that finished more than Retention before now
// and returns how many it deleted. It reads the done-by-time index up to
// the cutoff, not the sessions kept.
func (s *Store) Prune(now time.Time) (int, error) {
	cutoff := timeKey(now.Add(-s.retention))
	n := 0
	err := s.update("prune", func(tx *bolt.Tx) error {
		sessions, done := tx.Bucket(bucketSessions), tx.Bucket(bucketDone)
		var doomed [][]byte
		c := done.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if len(k) <= 8 {
				return fmt.Errorf("%w: done index key %x is too short", ErrCorrupt, k)
			}
			if bytes.Compare(k[:8], cutoff) >= 0 {
				break
			}
			doomed = append(doomed, bytes.Clone(k))
		}
		unfinished := tx.Bucket(bucketUnfinished)
		for _, k := range doomed {
			id := k[8:]
			if err := sessions.Delete(id); err != nil {
				return err
			}
			if err := done.Delete(k); err != nil {
				return err
			}
			// A done session is not in the unfinished index; deleting
			// there too keeps the index clean whatever happened before.
			if err := unfinished.Delete(id); err != nil {
				return err
			}
		}
		n = len(doomed)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: prune: %w", err)
	}
	return n, nil
}

// Summary is the database at a glance, for status.
type Summary struct {
	// Counts holds the number of sessions in each state (done included,
	// until pruned).
	Counts map[State]int
	// Outcomes counts done sessions by outcome.
	Outcomes map[string]int
	// OldestPending is the first_seen of the oldest unfinished session,
	// zero when there is none.
	OldestPending time.Time
	// Active lists the unfinished sessions, oldest first.
	Active []Session
}

// Summary returns the counts and the unfinished sessions. It works on a
// read-only store too. It walks every record (to count outcomes) but
// decodes only the state, outcome and times of the done ones.
func (s *Store) Summary() (Summary, error) {
	sum := Summary{Counts: map[State]int{}, Outcomes: map[string]int{}}
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSessions)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			h, err := decodeHead(k, v)
			if err != nil {
				return err
			}
			sum.Counts[h.State]++
			if h.State == StateDone {
				sum.Outcomes[h.Outcome]++
				return nil
			}
			sess, err := decodeSession(k, v)
			if err != nil {
				return err
			}
			sum.Active = append(sum.Active, sess)
			if sum.OldestPending.IsZero() || sess.Times.FirstSeen.Before(sum.OldestPending) {
				sum.OldestPending = sess.Times.FirstSeen
			}
			return nil
		})
	})
	if err != nil {
		return Summary{}, fmt.Errorf("store: summary: %w", err)
	}
	sort.Slice(sum.Active, func(i, j int) bool { return sum.Active[i].ID < sum.Active[j].ID })
	return sum, nil
}
