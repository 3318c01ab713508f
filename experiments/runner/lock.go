package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// Locks. A process that writes into a result directory holds, for its
// whole life, a flock(2) on <out>/.mha-lock: exclusive for a whole run,
// shared for a shard (so that the shards of one sweep run side by side)
// and for a merge. It records who it is in <out>/.mha-holders/<host>-<pid>.json
// (pid, host, start time, experiment and a hash of its config), so that a
// process with another config is refused naming the holder. Taking the
// lock, checking the holders and writing the holder file happen under a
// brief exclusive flock on <out>/.mha-guard, which also serializes the
// updates of manifest.json. Within a run, each point is computed under an
// exclusive flock on points/<dir>/.mha-lock, so two shards never compute
// the same point and a merge can tell a running point from a stopped one.
const (
	lockName    = ".mha-lock"
	guardName   = ".mha-guard"
	holdersName = ".mha-holders"
)

// Lock modes.
const (
	modeRun   = "run"
	modeShard = "shard"
	modeMerge = "merge"
)

// Holder is a process holding a result directory's lock.
type Holder struct {
	PID        int    `json:"pid"`
	Host       string `json:"host"`
	Start      string `json:"start"` // RFC 3339
	Experiment string `json:"experiment"`
	Config     string `json:"config"` // hash of the config without out, workers, threads, checkpoint_every, max_memory
	Mode       string `json:"mode"`   // run, shard or merge
	Shard      string `json:"shard,omitempty"`
}

func (h Holder) String() string {
	s := fmt.Sprintf("pid %d on host %s, started %s (%s", h.PID, h.Host, h.Start, h.Mode)
	if h.Shard != "" {
		s += " " + h.Shard
	}
	return s + " of experiment " + strconv.Quote(h.Experiment) + ")"
}

// LockedError is a directory locked by a process with another config.
type LockedError struct {
	Dir    string
	Holder Holder
	Why    string
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("output directory %s is in use by %s, %s; wait for it to finish, or use another -out (its lock file: %s)",
		e.Dir, e.Holder, e.Why, filepath.Join(e.Dir, lockName))
}

// runHash is the hash of what makes two runs the same run: the
// experiment and the config with its sweep, without the settings that do
// not change results.
func runHash(experiment string, cfg Config) string {
	m := toMap(cfg)
	for _, k := range []string{"out", "workers", "threads", "checkpoint_every", "max_memory"} {
		delete(m, k)
	}
	b, _ := json.Marshal(map[string]any{"experiment": experiment, "config": m, "sweep": cfg.RunSettings().Sweep})
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// dirLock is a held directory lock.
type dirLock struct {
	out    string
	f      *os.File
	holder string // the holder file
}

var hostname = func() string {
	h, err := os.Hostname()
	if err != nil {
		return "unknown"
	}
	return h
}()

// flockFile opens (creating) path and flocks it; nb: do not wait.
func flockFile(path string, how int, nb bool) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if nb {
		how |= unix.LOCK_NB
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// withGuard runs f under the directory's guard lock.
func withGuard(out string, f func() error) error {
	g, err := flockFile(filepath.Join(out, guardName), unix.LOCK_EX, false)
	if err != nil {
		return fmt.Errorf("lock %s: %w", filepath.Join(out, guardName), err)
	}
	defer g.Close() // closing releases the flock
	return f()
}

// alive reports whether the holder may still run: false only for a pid
// of this host that no longer exists.
func (h Holder) alive() bool {
	if h.Host != hostname {
		return true
	}
	err := syscall.Kill(h.PID, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// readHolders reads the holder files, removing those of dead processes
// (or all of them when all is set: the caller holds the lock exclusively).
func readHolders(out string, all bool) []Holder {
	dir := filepath.Join(out, holdersName)
	entries, _ := os.ReadDir(dir)
	var hs []Holder
	for _, en := range entries {
		p := filepath.Join(dir, en.Name())
		if isTemp(en.Name()) {
			continue
		}
		var h Holder
		b, err := os.ReadFile(p)
		if err != nil || json.Unmarshal(b, &h) != nil || all || !h.alive() {
			os.Remove(p)
			continue
		}
		hs = append(hs, h)
	}
	return hs
}

// lockDir takes the directory lock for a process of the given mode and
// config. A holder with another experiment or config refuses it
// (*LockedError, an *InputError); a holder with the same config is waited
// for, except that shards and merges share. Cancelling ctx stops the wait
// with ErrInterrupted.
func lockDir(ctx context.Context, out, experiment string, cfg Config, mode string, shard Shard, log *logrus.Logger) (*dirLock, error) {
	me := Holder{PID: os.Getpid(), Host: hostname, Start: time.Now().UTC().Format(time.RFC3339), Experiment: experiment,
		Config: runHash(experiment, cfg), Mode: mode}
	if shard.Count > 0 {
		me.Shard = shard.String()
	}
	how := unix.LOCK_SH
	if mode == modeRun {
		how = unix.LOCK_EX
	}
	waited := false
	for {
		var l *dirLock
		err := withGuard(out, func() error {
			f, err := flockFile(filepath.Join(out, lockName), how, true)
			if err != nil && !errors.Is(err, syscall.EWOULDBLOCK) {
				return err
			}
			hs := readHolders(out, f != nil && how == unix.LOCK_EX)
			for _, h := range hs {
				why := ""
				switch {
				case h.Experiment != experiment:
					why = fmt.Sprintf("which runs experiment %q, not %q", h.Experiment, experiment)
				case h.Config != me.Config && mode != modeMerge:
					why = "which runs another config (experiment settings or grid)"
				}
				if why != "" {
					if f != nil {
						f.Close()
					}
					return &InputError{Err: &LockedError{Dir: out, Holder: h, Why: why}}
				}
			}
			if f == nil && mode == modeMerge && len(hs) > 0 {
				return &InputError{Err: &LockedError{Dir: out, Holder: hs[0], Why: "a whole run of this config, which writes metrics.csv and summary.json itself"}}
			}
			if f == nil {
				if !waited && len(hs) > 0 {
					log.WithFields(logrus.Fields{"out": out, "holder": hs[0].String()}).
						Warn("another process runs the same config in this directory: waiting for it to finish")
				}
				return nil
			}
			if err := os.MkdirAll(filepath.Join(out, holdersName), 0o755); err != nil {
				f.Close()
				return err
			}
			hp := filepath.Join(out, holdersName, hostname+"-"+strconv.Itoa(me.PID)+".json")
			if err := WriteJSON(hp, me); err != nil {
				f.Close()
				return err
			}
			// The lock file itself names the latest holder, for people
			// reading it.
			f.Truncate(0)
			b, _ := json.MarshalIndent(me, "", "  ")
			f.WriteAt(append(b, '\n'), 0)
			l = &dirLock{out: out, f: f, holder: hp}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if l != nil {
			return l, nil
		}
		waited = true
		select {
		case <-ctx.Done():
			return nil, ErrInterrupted
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// unlock removes the holder file and releases the lock.
func (l *dirLock) unlock() {
	if l == nil {
		return
	}
	withGuard(l.out, func() error {
		os.Remove(l.holder)
		return nil
	})
	l.f.Close()
}

// lockPoint takes the exclusive lock of a point's directory without
// waiting; ok is false when another process holds it.
func lockPoint(dir string) (f *os.File, ok bool, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, false, err
	}
	f, err = flockFile(filepath.Join(dir, lockName), unix.LOCK_EX, true)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return nil, false, nil
	}
	return f, err == nil, err
}

// pointRunning reports whether another process holds the point's lock.
func pointRunning(dir string) bool {
	if _, err := os.Stat(filepath.Join(dir, lockName)); err != nil {
		return false
	}
	f, err := flockFile(filepath.Join(dir, lockName), unix.LOCK_EX, true)
	if err != nil {
		return errors.Is(err, syscall.EWOULDBLOCK)
	}
	f.Close()
	return false
}

// isControl reports whether name is one of the runner's own bookkeeping
// files (locks, holders, the manifest, atomic-write temporaries, the
// write probe).
func isControl(name string) bool {
	return name == lockName || name == guardName || name == holdersName || name == manifestName ||
		isTemp(name) || strings.HasPrefix(name, probeName)
}
