package store

import (
	"errors"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func TestFoldPath(t *testing.T) {
	tests := []struct {
		name string
		in   string
		fold bool
		want string
	}{
		{"exact keeps case", "/in/Applicant-1/Scan.PDF", false, "/in/Applicant-1/Scan.PDF"},
		{"exact cleans", "/in//a/./b/../x.pdf", false, "/in/a/x.pdf"},
		{"fold ascii", "/in/Applicant-1/Scan.PDF", true, "/IN/APPLICANT-1/SCAN.PDF"},
		{"fold cleans too", "/in//Applicant-1/./x.pdf", true, "/IN/APPLICANT-1/X.PDF"},
		{"fold digits and punctuation untouched", "/in/2026-03_01 (1)/#a.pdf", true, "/IN/2026-03_01 (1)/#A.PDF"},
		{"fold latin-1", "/in/Relevé-Éric/ß.pdf", true, "/IN/RELEVÉ-ÉRIC/ß.PDF"},
		{"fold greek sigma forms", "/in/ΣσςX", true, "/IN/ΣΣΣX"},
		{"fold kelvin sign with k", "/in/\u212Aelvin", true, "/IN/KELVIN"},
		{"fold long s with s", "/in/\u017Fcan", true, "/IN/SCAN"},
		{"fold cyrillic", "/in/Выписка", true, "/IN/ВЫПИСКА"},
		{"fold keeps invalid utf-8 bytes", "/in/a\xffb\xfe", true, "/IN/A\xffB\xfe"},
		{"no-case runes unchanged", "/in/明細-٣", true, "/IN/明細-٣"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, want := filepath.FromSlash(tt.in), filepath.FromSlash(tt.want)
			if got := foldPath(in, tt.fold); got != want {
				t.Errorf("foldPath(%q, %v) = %q, want %q", in, tt.fold, got, want)
			}
		})
	}
}

// Every case variant of a path folds to one key, and folding is idempotent.
func TestFoldPathVariantsShareAKey(t *testing.T) {
	variants := []string{"/in/Applicant-1/x.pdf", "/in/applicant-1/X.pdf", "/IN/APPLICANT-1/X.PDF", "/in/aPPLICANT-1/x.Pdf"}
	want := foldPath(variants[0], true)
	for _, v := range variants {
		got := foldPath(v, true)
		if got != want {
			t.Errorf("foldPath(%q, true) = %q, want %q (the key of %q)", v, got, want, variants[0])
		}
		if again := foldPath(got, true); again != got {
			t.Errorf("foldPath(foldPath(%q)) = %q, want %q (idempotent)", v, again, got)
		}
	}
}

func openCase(t *testing.T, path string, c pathCase) *Store {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "state.db")
	}
	st, err := Open(path, Options{paths: c})
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// A folder renamed only in case while its session runs: on a
// case-insensitive store its files are still taken, so the pipeline does
// not start a second session and upload them again.
func TestTakenFolderRenamedInCase(t *testing.T) {
	tests := []struct {
		name      string
		paths     pathCase
		wantTaken bool
	}{
		{"folded (windows)", pathCaseFold, true},
		{"exact (unix)", pathCaseExact, false},
		{"platform", pathCasePlatform, caseInsensitivePaths},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := openCase(t, "", tt.paths)
			s := newSession("/in", "Scan.pdf")
			s.Dir = filepath.Join("/in", "Applicant-1")
			s.Files[0].Path = filepath.Join("/in", "Applicant-1", "Scan.pdf")
			s.Marker = filepath.Join("/in", "Applicant-1", "READY")
			s = mustCreate(t, st, s)

			renamed := []string{
				filepath.Join("/in", "applicant-1", "Scan.pdf"),
				filepath.Join("/in", "applicant-1", "READY"),
			}
			for _, p := range renamed {
				if got, err := st.IsTaken(p); err != nil || got != tt.wantTaken {
					t.Errorf("IsTaken(%s) = %v, %v, want %v", p, got, err, tt.wantTaken)
				}
			}
			again := newSession("/in", "Scan.pdf")
			again.Files[0].Path = renamed[0]
			_, err := st.Create(again)
			if gotTaken := errors.Is(err, ErrTaken); gotTaken != tt.wantTaken {
				t.Errorf("Create with the renamed path: err = %v, want ErrTaken: %v", err, tt.wantTaken)
			}
			if tt.wantTaken {
				// Done releases the folded keys: the renamed folder is free.
				finishSession(t, st, s.ID, t0)
				for _, p := range append(renamed, s.Files[0].Path) {
					if got, _ := st.IsTaken(p); got {
						t.Errorf("IsTaken(%s) after done = true, want released", p)
					}
				}
			}
		})
	}
}

// Two paths of one session that fold to the same key do not make Create
// refuse the session as taken by itself.
func TestCreateOwnPathsDifferingInCase(t *testing.T) {
	st := openCase(t, "", pathCaseFold)
	s := newSession("/in", "x.pdf", "X.PDF")
	got, err := st.Create(s)
	if err != nil {
		t.Fatalf("Create with two paths differing in case: %v, want it stored", err)
	}
	finishSession(t, st, got.ID, t0)
	if n := takenKeys(t, st); len(n) != 0 {
		t.Errorf("taken index after done = %q, want empty", n)
	}
}

func takenKeys(t *testing.T, st *Store) []string {
	t.Helper()
	var keys []string
	err := st.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTaken).ForEach(func(k, _ []byte) error {
			keys = append(keys, string(k))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(keys)
	return keys
}

// buildV2 writes a version 2 database the way version 2 did: the real
// migrations up to 2, then sessions created with the taken index keyed by
// the exact path.
func buildV2(t *testing.T, path string, sessions []Session) {
	t.Helper()
	st, err := open(path, Options{paths: pathCaseExact}, false, migrations()[:2])
	if err != nil {
		t.Fatalf("build v2: %v", err)
	}
	for _, s := range sessions {
		done := s.State == StateDone
		got, err := st.Create(s)
		if err != nil {
			t.Fatalf("build v2: %v", err)
		}
		if done {
			finishSession(t, st, got.ID, t0)
		}
	}
	if v, _ := st.Version(); v != 2 {
		t.Fatalf("built version %d, want 2", v)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestMigrateFromVersion2FoldsTakenIndex(t *testing.T) {
	polling := newSession("/in", "Scan.pdf")
	polling.ID = "20260301T090000.000Z-00000001"
	polling.Files[0].Path = filepath.Join("/in", "Applicant-1", "Scan.pdf")
	polling.Marker = filepath.Join("/in", "Applicant-1", "READY")
	done := newSession("/in", "Old.pdf")
	done.ID, done.State = "20260301T090000.000Z-00000002", StateDone
	done.Files[0].Path = filepath.Join("/in", "Applicant-2", "Old.pdf")

	tests := []struct {
		name      string
		paths     pathCase
		wantKeys  []string
		wantTaken bool
	}{
		{"folded (windows)", pathCaseFold, []string{
			foldPath(polling.Files[0].Path, true), foldPath(polling.Marker, true),
		}, true},
		{"exact (unix)", pathCaseExact, []string{polling.Files[0].Path, polling.Marker}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			buildV2(t, path, []Session{polling, done})

			st := openCase(t, path, tt.paths)
			if v, err := st.Version(); err != nil || v != 3 {
				t.Errorf("Version() = %d, %v, want 3", v, err)
			}
			want := append([]string(nil), tt.wantKeys...)
			sort.Strings(want)
			if got := takenKeys(t, st); !reflect.DeepEqual(got, want) {
				t.Errorf("taken index after migration = %q, want %q (no exact-case keys left, nothing of the done session)", got, want)
			}
			if got, _ := st.IsTaken(polling.Files[0].Path); !got {
				t.Errorf("IsTaken(%s) = false, want true (exact path)", polling.Files[0].Path)
			}
			renamed := filepath.Join("/in", "APPLICANT-1", "scan.PDF")
			if got, _ := st.IsTaken(renamed); got != tt.wantTaken {
				t.Errorf("IsTaken(%s) = %v, want %v", renamed, got, tt.wantTaken)
			}
			if got, _ := st.IsTaken(done.Files[0].Path); got {
				t.Errorf("IsTaken(%s) of a done session = true, want false", done.Files[0].Path)
			}
			finishSession(t, st, polling.ID, t0)
			if got := takenKeys(t, st); len(got) != 0 {
				t.Errorf("taken index after the last session is done = %q, want empty", got)
			}
		})
	}
}

// Two unfinished v2 sessions whose paths differ only in case share one
// folded key after the migration: the older keeps it, so the newer one
// finishing does not release the older one's file.
func TestMigrateFromVersion2CaseCollisionKeepsOlder(t *testing.T) {
	older := newSession("/in", "x.pdf")
	older.ID = "20260301T090000.000Z-00000001"
	older.Files[0].Path = filepath.Join("/in", "Applicant-1", "x.pdf")
	newer := newSession("/in", "x.pdf")
	newer.ID = "20260301T090000.000Z-00000002"
	newer.Files[0].Path = filepath.Join("/in", "applicant-1", "x.pdf")

	path := filepath.Join(t.TempDir(), "state.db")
	buildV2(t, path, []Session{older, newer})
	st := openCase(t, path, pathCaseFold)
	finishSession(t, st, newer.ID, t0)
	if got, _ := st.IsTaken(older.Files[0].Path); !got {
		t.Errorf("IsTaken(%s) after the newer look-alike finished = false, want true (the older session still holds it)", older.Files[0].Path)
	}
}
