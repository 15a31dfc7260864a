package watcher

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/rs/zerolog"

	"github.com/flinkdrop/flinkdrop/internal/clock"
)

// engine is the state of one Run or Once. Everything in it is owned by the
// goroutine running loop; nothing is shared.
type engine struct {
	ctx   context.Context
	w     *Watcher
	clk   clock.Clock
	log   zerolog.Logger
	once  bool
	roots []*dirState // one per inbox, same order as w.inboxes

	// initial is true during the first full scan; Once tracks only what it
	// finds then.
	initial bool

	dirs   map[string]*dirState // every folder known, by absolute path
	due    map[*dirState]struct{}
	queue  []Batch // closed batches not yet sent
	warned map[string]time.Time

	fsw    *fsnotify.Watcher // nil when events are off
	events <-chan fsnotify.Event
	errs   <-chan error
}

// dirState is what the watcher knows of one folder.
type dirState struct {
	in       *inbox
	path     string
	folder   string // under the inbox, "/" separators; "" for the root
	root     bool
	parent   *dirState
	children map[string]*dirState // by name

	fresh    bool      // not yet scanned successfully
	dirMtime time.Time // the folder's mtime when first seen
	watched  bool
	dropped  bool

	files      map[string]*fileState // files waiting to be taken, by name
	handed     map[string]handedFile // files put in a batch, until they go away
	marker     *fileKey              // the ready marker, when present
	usedMarker *fileKey              // the marker that closed the last batch
	lastChange time.Time             // settle counts from here
	due        time.Time             // when the folder needs a scan; zero = never
	rescanAt   time.Time             // roots only: the next periodic full rescan
	noted      map[string]bool       // symlinks and odd entries already logged
}

// fileKey identifies one version of a file.
type fileKey struct {
	size  int64
	mtime int64 // UnixNano
}

// found is one directory entry a scan kept.
type found struct {
	name string
	info fs.FileInfo
}

// handedFile is a file put in a batch, as it was then.
type handedFile struct {
	key       fileKey
	mtime     time.Time
	firstSeen time.Time
	sentAt    time.Time // when the pipeline received the batch; zero while queued
}

// fileState is the observation of one file waiting to be taken.
type fileState struct {
	key         fileKey
	mtime       time.Time
	firstSeen   time.Time
	stableSince time.Time // first seen with its current size and mtime
	fast        bool      // found with its folder, mtime already old enough
}

func keyOf(info fs.FileInfo) fileKey {
	return fileKey{size: info.Size(), mtime: info.ModTime().UnixNano()}
}

func newEngine(ctx context.Context, w *Watcher, once bool) *engine {
	e := &engine{
		ctx:     ctx,
		w:       w,
		clk:     w.clk,
		log:     w.log,
		once:    once,
		initial: true,
		dirs:    make(map[string]*dirState),
		due:     make(map[*dirState]struct{}),
		warned:  make(map[string]time.Time),
	}
	for _, in := range w.inboxes {
		d := e.newDir(in, nil, in.root, "")
		d.root = true
		e.roots = append(e.roots, d)
	}
	return e
}

func (e *engine) newDir(in *inbox, parent *dirState, path, folder string) *dirState {
	d := &dirState{
		in:       in,
		path:     path,
		folder:   folder,
		parent:   parent,
		children: make(map[string]*dirState),
		fresh:    true,
		files:    make(map[string]*fileState),
		handed:   make(map[string]handedFile),
		noted:    make(map[string]bool),
	}
	e.dirs[path] = d
	return d
}

// startEvents starts fsnotify; when it cannot, the rescans carry on alone.
func (e *engine) startEvents() {
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		e.log.Warn().AnErr("err", err).Msg("file events unavailable; finding files by rescan only (on Linux, raise fs.inotify.max_user_instances)")
		return
	}
	e.fsw, e.events, e.errs = fsw, fsw.Events, fsw.Errors
}

func (e *engine) close() {
	if e.fsw != nil {
		if err := e.fsw.Close(); err != nil {
			e.log.Debug().AnErr("err", err).Msg("closing file events")
		}
	}
}

// loop serves events, timers and sends until ctx is done or, in Once mode,
// every batch is sent.
func (e *engine) loop(out chan<- Batch) error {
	timer := e.clk.NewTimer(time.Hour)
	defer timer.Stop()
	e.rearm(timer)
	for {
		if e.once && e.ctx.Err() != nil {
			return e.ctx.Err()
		}
		if e.once && len(e.queue) == 0 && len(e.due) == 0 {
			return nil
		}
		var send chan<- Batch
		var next Batch
		if len(e.queue) > 0 {
			send, next = out, e.queue[0]
		}
		select {
		case <-e.ctx.Done():
			if e.once {
				return e.ctx.Err()
			}
			return nil
		case send <- next:
			e.queue[0] = Batch{}
			e.queue = e.queue[1:]
			e.markSent(next)
			e.log.Debug().Str("inbox", next.Inbox).Str("folder", next.Folder).Int("files", len(next.Files)).Msg("batch handed over")
		case <-timer.C():
			e.runDue()
		case ev, ok := <-e.events:
			if !ok {
				e.events = nil
				continue
			}
			e.onEvent(ev)
			e.drainEvents()
		case err, ok := <-e.errs:
			if !ok {
				e.errs = nil
				continue
			}
			e.onWatchError(err)
		case err := <-e.w.errCh:
			e.onWatchError(err)
		case <-e.w.rescanCh:
			e.fullRescan()
		case reply := <-e.w.syncCh:
			select {
			case <-timer.C():
				e.runDue()
			default:
			}
			reply <- len(e.queue)
		}
		e.rearm(timer)
	}
}

// rearm points the timer at the next thing to do, or stops it.
func (e *engine) rearm(t clock.Timer) {
	var next time.Time
	if !e.once {
		for _, r := range e.roots {
			next = earliest(next, r.rescanAt)
		}
	}
	for d := range e.due {
		next = earliest(next, d.due)
	}
	if next.IsZero() {
		t.Stop()
		return
	}
	d := next.Sub(e.clk.Now())
	if d < 0 {
		d = 0
	}
	t.Reset(d)
}

func (e *engine) drainEvents() {
	for i := 0; i < 1024; i++ {
		select {
		case ev, ok := <-e.events:
			if !ok {
				e.events = nil
				return
			}
			e.onEvent(ev)
		default:
			return
		}
	}
}

// onEvent schedules a quick scan of the folder an event touched, and of the
// folder itself when it is one we know (it was removed or renamed).
func (e *engine) onEvent(ev fsnotify.Event) {
	name := filepath.Clean(ev.Name)
	if hiddenFolder(filepath.Base(name)) {
		return
	}
	at := e.clk.Now().Add(debounce)
	if d, ok := e.dirs[name]; ok && !d.root {
		e.setDue(d, at)
	}
	if d, ok := e.dirs[filepath.Dir(name)]; ok {
		e.setDue(d, at)
	}
}

// onWatchError handles an error from fsnotify (a queue overflow above all):
// events may have been lost, so everything is scanned again.
func (e *engine) onWatchError(err error) {
	if errors.Is(err, fsnotify.ErrEventOverflow) {
		e.log.Info().Msg("file event queue overflowed; rescanning every inbox")
	} else {
		e.warn("fsnotify", err, "file events failed; rescanning every inbox")
	}
	e.fullRescan()
}

// runDue runs the periodic rescans and the folder scans whose time has come.
func (e *engine) runDue() {
	now := e.clk.Now()
	if !e.once {
		for _, r := range e.roots {
			if !r.rescanAt.After(now) {
				e.rescanInbox(r)
			}
		}
	}
	var ready []*dirState
	for d := range e.due {
		if !d.due.After(now) {
			ready = append(ready, d)
		}
	}
	sort.Slice(ready, func(i, j int) bool { return ready[i].path < ready[j].path })
	for _, d := range ready {
		if !d.dropped {
			e.scanDir(d, false)
		}
	}
}

func (e *engine) fullRescan() {
	for _, r := range e.roots {
		e.rescanInbox(r)
	}
	now := e.clk.Now()
	for k, at := range e.warned {
		if now.Sub(at) >= warnEvery {
			delete(e.warned, k)
		}
	}
}

// rescanInbox walks one inbox and sets the time of its next rescan.
func (e *engine) rescanInbox(r *dirState) {
	e.scanDir(r, true)
	r.rescanAt = e.clk.Now().Add(r.in.interval)
}

// setDue asks for a scan of d at t, or earlier if one is already due.
func (e *engine) setDue(d *dirState, t time.Time) {
	if d.due.IsZero() || t.Before(d.due) {
		d.due = t
	}
	e.due[d] = struct{}{}
}

func (e *engine) clearDue(d *dirState) {
	delete(e.due, d)
	d.due = time.Time{}
}

// scanDir reads one folder, updates what is known of its files and closes
// its batch when it is ready. New subfolders are always scanned; known ones
// only when recurse is set.
func (e *engine) scanDir(d *dirState, recurse bool) {
	if e.ctx.Err() != nil {
		return
	}
	e.clearDue(d)
	if e.fsw != nil && (!d.watched || (recurse && rewatchOnRescan)) {
		e.watch(d) // before reading, so nothing written meanwhile is missed
	}
	entries, err := os.ReadDir(d.path)
	now := e.clk.Now()
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && !d.root {
			e.dropDir(d)
			return
		}
		e.warn(d.path, err, "cannot read folder; will try again (check that it exists and the service account may read it)")
		if d.root {
			d.watched = false
		}
		if len(d.files) > 0 {
			e.setDue(d, now.Add(errorRetry))
		}
		return
	}
	delete(e.warned, d.path)

	var files, dirs []found
	seen := make(map[string]bool, len(entries))
	keep := make(map[string]bool)
	d.marker = nil
	for _, ent := range entries {
		name := ent.Name()
		if hiddenFolder(name) {
			continue
		}
		typ := ent.Type()
		if typ&fs.ModeSymlink != 0 || (!typ.IsDir() && !typ.IsRegular()) {
			seen[name] = true
			e.note(d, name, typ)
			continue
		}
		info, err := ent.Info()
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				// Not gone, just unreadable for now: keep what is known.
				keep[name] = true
				e.warn(filepath.Join(d.path, name), err, "cannot stat entry; will try again")
			}
			continue
		}
		if hiddenAttr(info) {
			continue
		}
		switch {
		case info.IsDir():
			if e.once && !e.initial && d.children[name] == nil {
				continue
			}
			if d.in.skipped(filepath.Join(d.path, name)) {
				continue
			}
			seen[name] = true
			dirs = append(dirs, found{name, info})
		case info.Mode().IsRegular():
			if d.in.isMarker(name) {
				k := keyOf(info)
				d.marker = &k
				continue
			}
			if ignoredName(name, d.in) {
				continue
			}
			seen[name] = true
			files = append(files, found{name, info})
		}
	}
	if d.marker == nil {
		d.usedMarker = nil
	}

	// Forget what went away first, so a folder renamed onto a new name is
	// unwatched under its old one before it is watched under the new one.
	isDir := make(map[string]bool, len(dirs)+len(keep))
	isFile := make(map[string]bool, len(files)+len(keep))
	for name := range keep {
		isDir[name], isFile[name], seen[name] = true, true, true
	}
	for _, f := range dirs {
		isDir[f.name] = true
	}
	for name, c := range d.children {
		if !isDir[name] {
			e.dropDir(c)
		}
	}
	for _, f := range files {
		isFile[f.name] = true
	}
	for name := range d.files {
		if !isFile[name] {
			delete(d.files, name)
			d.lastChange = latest(d.lastChange, now)
			e.log.Debug().Str("path", filepath.Join(d.path, name)).Msg("file went away before it was taken")
		}
	}
	for name := range d.handed {
		if !isFile[name] {
			delete(d.handed, name)
		}
	}
	for name := range d.noted {
		if !seen[name] {
			delete(d.noted, name)
		}
	}

	for _, f := range files {
		e.observe(d, f.name, f.info, now)
	}
	if recurse && !e.once && e.w.taken != nil {
		e.reoffer(d, files, now)
	}
	d.fresh = false
	unreadable := false
	for name := range keep {
		unreadable = unreadable || d.files[name] != nil
	}
	if unreadable {
		e.setDue(d, now.Add(errorRetry)) // close nothing on a half-read folder
	} else {
		e.evaluate(d, now)
	}

	for _, f := range dirs {
		c := d.children[f.name]
		if c == nil {
			folder := f.name
			if !d.root {
				folder = d.folder + "/" + f.name
			}
			c = e.newDir(d.in, d, filepath.Join(d.path, f.name), folder)
			c.dirMtime = f.info.ModTime()
			d.children[f.name] = c
			e.scanDir(c, recurse)
			continue
		}
		if recurse {
			e.scanDir(c, true)
		}
	}
}

// observe updates the state of one file seen in d at now.
func (e *engine) observe(d *dirState, name string, info fs.FileInfo, now time.Time) {
	path := filepath.Join(d.path, name)
	k := keyOf(info)
	hf, handed := d.handed[name]
	if handed && hf.key == k {
		return
	}
	if e.w.taken != nil && e.w.taken.Taken(path) {
		delete(d.files, name)
		return
	}
	if handed {
		delete(d.handed, name)
		e.log.Info().Str("path", path).Msg("file changed after it was handed over and no session holds it; taking it again as a new file")
	}
	f := d.files[name]
	switch {
	case f == nil:
		if e.once && !e.initial {
			return // arrived after the start: the next run takes it
		}
		mt := info.ModTime()
		stableFor := d.in.StableFor
		d.files[name] = &fileState{
			key:         k,
			mtime:       mt,
			firstSeen:   now,
			stableSince: now,
			// The fast path is for files found with their folder (at start,
			// or a folder moved in whole): a file that turns up later with
			// an old mtime may be a copy that kept its source's mtime and is
			// still growing, so it gets its second look.
			fast: d.fresh && !mt.After(now.Add(-stableFor)),
		}
		change := now
		if d.fresh {
			// A folder seen for the first time changed last when its
			// newest entry did; files long in place need no settle wait.
			change = clampTo(latest(mt, d.dirMtime), now)
		}
		d.lastChange = latest(d.lastChange, change)
	case f.key != k:
		f.key, f.mtime = k, info.ModTime()
		f.stableSince, f.fast = now, false
		d.lastChange = latest(d.lastChange, now)
	}
}

// evaluate closes d's batch if it is ready, or sets when to look again.
func (e *engine) evaluate(d *dirState, now time.Time) {
	if len(d.files) == 0 {
		return
	}
	var stable []string
	var unstableUntil time.Time
	for name, f := range d.files {
		until := f.stableSince.Add(d.in.StableFor)
		if f.fast || !now.Before(until) {
			stable = append(stable, name)
			continue
		}
		unstableUntil = earliest(unstableUntil, until)
	}
	sort.Strings(stable)

	if d.root {
		// Each root file is a batch by itself; settle does not apply.
		for _, name := range stable {
			if e.probeOK(d, name) {
				e.handOver(d, []string{name}, "")
			} else {
				unstableUntil = earliest(unstableUntil, now.Add(probeRetry))
			}
		}
		if !unstableUntil.IsZero() {
			e.setDue(d, unstableUntil)
		}
		return
	}

	if !unstableUntil.IsZero() {
		e.setDue(d, unstableUntil)
		return
	}
	marker := ""
	switch {
	case e.once:
		if d.marker != nil {
			marker = filepath.Join(d.path, d.in.ReadyMarker)
		}
	case d.marker != nil && (d.usedMarker == nil || *d.usedMarker != *d.marker):
		marker = filepath.Join(d.path, d.in.ReadyMarker)
	case now.Sub(d.lastChange) >= d.in.Settle:
	default:
		e.setDue(d, d.lastChange.Add(d.in.Settle))
		return
	}
	for _, name := range stable {
		if !e.probeOK(d, name) {
			e.setDue(d, now.Add(probeRetry))
			return
		}
	}
	e.handOver(d, stable, marker)
}

func (e *engine) probeOK(d *dirState, name string) bool {
	if e.w.probe == nil {
		return true
	}
	path := filepath.Join(d.path, name)
	err := e.w.probe(path)
	switch {
	case err == nil:
		return true
	case errors.Is(err, ErrFileBusy):
		e.log.Debug().Str("path", path).Msg("file still open in another process; waiting")
	default:
		e.warn(path, err, "cannot open file to check it is complete; will try again")
	}
	return false
}

// handOver queues the batch of the named files of d and remembers them.
func (e *engine) handOver(d *dirState, names []string, marker string) {
	b := Batch{Inbox: d.in.Path, Folder: d.folder, Dir: d.path, Marker: marker, Files: make([]File, 0, len(names))}
	for _, name := range names {
		f := d.files[name]
		b.Files = append(b.Files, File{Path: filepath.Join(d.path, name), Name: name, Size: f.key.size, ModTime: f.mtime})
		if b.FirstSeen.IsZero() || f.firstSeen.Before(b.FirstSeen) {
			b.FirstSeen = f.firstSeen
		}
		d.handed[name] = handedFile{key: f.key, mtime: f.mtime, firstSeen: f.firstSeen}
		delete(d.files, name)
	}
	if marker != "" && d.marker != nil {
		used := *d.marker
		d.usedMarker = &used
	}
	e.queue = append(e.queue, b)
	e.log.Debug().Str("inbox", b.Inbox).Str("folder", b.Folder).Int("files", len(b.Files)).Bool("marker", marker != "").Msg("batch closed")
}

// markSent starts the re-offer grace of the files of b, now that the
// pipeline has received it.
func (e *engine) markSent(b Batch) {
	d := e.dirs[b.Dir]
	if d == nil {
		return
	}
	now := e.clk.Now()
	for _, f := range b.Files {
		h, ok := d.handed[f.Name]
		if ok && h.sentAt.IsZero() && h.key == (fileKey{size: f.Size, mtime: f.ModTime.UnixNano()}) {
			h.sentAt = now
			d.handed[f.Name] = h
		}
	}
}

// reoffer puts back among the waiting files of d every handed-over file that
// is still there unchanged, was received by the pipeline at least the grace
// ago, and that no session holds: its batch was dropped (the pipeline could
// not persist it, or refused it) or its session ended and left it in place.
// Such files are already stable; the folder's usual rules then close them
// into a new batch. files is what the scan found in d.
func (e *engine) reoffer(d *dirState, files []found, now time.Time) {
	if len(d.handed) == 0 {
		return
	}
	grace := d.in.reofferGrace()
	present := make(map[string]fileKey, len(files))
	for _, f := range files {
		present[f.name] = keyOf(f.info)
	}
	n := 0
	for name, h := range d.handed {
		k, ok := present[name]
		if !ok || k != h.key || h.sentAt.IsZero() || now.Sub(h.sentAt) < grace {
			continue
		}
		path := filepath.Join(d.path, name)
		if e.w.taken.Taken(path) {
			continue
		}
		delete(d.handed, name)
		d.files[name] = &fileState{key: h.key, mtime: h.mtime, firstSeen: h.firstSeen, stableSince: h.sentAt, fast: true}
		n++
		e.log.Info().Str("path", path).Msg("file handed over earlier is held by no session (its batch was dropped or its session left it in place); offering it again")
	}
	if n == 0 {
		return
	}
	// The marker that closed the dropped batch closes the new one too, as it
	// would for a folder seen for the first time, unless a session holds it.
	if d.marker != nil && d.usedMarker != nil && *d.usedMarker == *d.marker &&
		!e.w.taken.Taken(filepath.Join(d.path, d.in.ReadyMarker)) {
		d.usedMarker = nil
	}
}

// dropDir forgets a folder that went away, with everything under it.
func (e *engine) dropDir(d *dirState) {
	for _, c := range d.children {
		e.dropDir(c)
	}
	if d.watched && e.fsw != nil {
		if err := e.fsw.Remove(d.path); err != nil {
			e.log.Debug().Str("path", d.path).AnErr("err", err).Msg("unwatching a folder that went away")
		}
	}
	if len(d.files) > 0 {
		e.log.Debug().Str("folder", d.folder).Int("files", len(d.files)).Msg("folder went away before its batch closed")
	}
	e.clearDue(d)
	d.dropped = true
	delete(e.dirs, d.path)
	if d.parent != nil && d.parent.children[filepath.Base(d.path)] == d {
		delete(d.parent.children, filepath.Base(d.path))
	}
}

func (e *engine) watch(d *dirState) {
	if err := e.fsw.Add(d.path); err != nil {
		d.watched = false
		if !errors.Is(err, fs.ErrNotExist) {
			e.warn(d.path+" (watch)", err, "cannot watch folder; relying on rescans for it (on Linux, raise fs.inotify.max_user_watches)")
		}
		return
	}
	d.watched = true
}

// note logs a skipped symbolic link or special file once while it stays.
func (e *engine) note(d *dirState, name string, typ fs.FileMode) {
	if d.noted[name] {
		return
	}
	d.noted[name] = true
	what := "special file"
	if typ&fs.ModeSymlink != 0 {
		what = "symbolic link"
	}
	e.log.Info().Str("path", filepath.Join(d.path, name)).Msg(what + " skipped: links are not followed (move the real file into the inbox)")
}

// warn logs err about key at warn level once, then at most every warnEvery;
// repeats in between go to debug.
func (e *engine) warn(key string, err error, msg string) {
	now := e.clk.Now()
	if at, ok := e.warned[key]; ok && now.Sub(at) < warnEvery {
		e.log.Debug().Str("path", key).AnErr("err", err).Msg(msg)
		return
	}
	e.warned[key] = now
	e.log.Warn().Str("path", key).AnErr("err", err).Msg(msg)
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// clampTo returns t, or now if t lies in the future (clock skew).
func clampTo(t, now time.Time) time.Time {
	if t.After(now) {
		return now
	}
	return t
}
