package store

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzStateMachine drives a session through random transitions: the store
// must accept exactly the legal ones, never hold an illegal state, and give
// back the same session after a reopen.
func FuzzStateMachine(f *testing.F) {
	f.Add([]byte{1, 0, 1, 2, 3, 4, 5, 6})
	f.Add([]byte{0, 2, 9, 17, 33, 3, 200, 5, 6})
	f.Add([]byte{6, 6, 6, 1, 1, 250})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 64 {
			ops = ops[:64]
		}
		path := filepath.Join(t.TempDir(), "state.db")
		st, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = st.Close() }()
		model, err := st.Create(newSession("/in", "x.pdf", "y.pdf"))
		if err != nil {
			t.Fatal(err)
		}
		states := AllStates()
		fileStates := []FileState{FilePending, FileSending, FileSent, FileRejected}
		for _, op := range ops {
			next := model.Clone()
			if op&0x80 == 0 {
				next.State = states[int(op)%len(states)]
			} else {
				i := int(op>>4) & 1
				next.Files[i].State = fileStates[int(op)%len(fileStates)]
			}
			legal := checkTransition(&model, &next) == nil
			got, err := st.Update(model.ID, func(s *Session) error { *s = next.Clone(); return nil })
			switch {
			case legal && err != nil:
				t.Fatalf("legal %s→%s refused: %v", model.State, next.State, err)
			case !legal && !errors.Is(err, ErrIllegalTransition):
				t.Fatalf("illegal %s→%s: err = %v, want ErrIllegalTransition", model.State, next.State, err)
			case legal:
				model = got
			}
			if !model.State.Valid() {
				t.Fatalf("model reached unknown state %q", model.State)
			}
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		st, err = Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := st.Get(model.ID)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := json.Marshal(got)
		b, _ := json.Marshal(model)
		if string(a) != string(b) {
			t.Errorf("after reopen got %s, want %s", a, b)
		}
		un, err := st.Unfinished()
		if err != nil {
			t.Fatal(err)
		}
		if got, want := len(un), map[bool]int{true: 0, false: 1}[model.State == StateDone]; got != want {
			t.Errorf("Unfinished in state %s = %d sessions, want %d", model.State, got, want)
		}
		counts, err := st.Counts()
		if err != nil {
			t.Fatal(err)
		}
		if want := map[State]int{model.State: 1}; !reflect.DeepEqual(counts, want) {
			t.Errorf("Counts() = %v, want %v", counts, want)
		}
		taken, _ := st.IsTaken(model.Files[0].Path)
		if want := model.State != StateDone; taken != want {
			t.Errorf("IsTaken in state %s = %v, want %v", model.State, taken, want)
		}
	})
}
