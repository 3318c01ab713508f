package runner

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// manifestName is <out>/manifest.json: every file of the directory that
// this program wrote, relative to it, with its SHA-256. -force deletes
// only the files it lists (and the files of the points it lists, see
// ownedBy), and refuses a directory that holds anything else.
const manifestName = "manifest.json"

// Manifest is manifest.json.
type Manifest struct {
	Files map[string]string `json:"files"` // relative path -> SHA-256 (hex)
}

func readManifest(out string) (Manifest, error) {
	var m Manifest
	b, err := os.ReadFile(filepath.Join(out, manifestName))
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	if m.Files == nil {
		m.Files = map[string]string{}
	}
	return m, err
}

// fileSHA256 is the SHA-256 of a file's bytes, in hex.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// listFiles lists the regular files at or below rel (relative to out),
// leaving out the runner's bookkeeping files.
func listFiles(out, rel string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(filepath.Join(out, rel), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if isControl(d.Name()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() {
			r, _ := filepath.Rel(out, path)
			files = append(files, filepath.ToSlash(r))
		}
		return nil
	})
	sort.Strings(files)
	return files, err
}

// recordFiles adds the files at or below each rel (relative to out) to
// manifest.json with their checksums, under the directory's guard lock.
func recordFiles(out string, rels ...string) error {
	return withGuard(out, func() error {
		m, err := readManifest(out)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s: %w", filepath.Join(out, manifestName), err)
		}
		for _, rel := range rels {
			files, err := listFiles(out, rel)
			if err != nil {
				return err
			}
			for _, f := range files {
				sum, err := fileSHA256(filepath.Join(out, f))
				if err != nil {
					return err
				}
				m.Files[f] = sum
			}
		}
		return WriteJSON(filepath.Join(out, manifestName), m)
	})
}

// Record adds the files at or below rel (a path relative to the result
// directory, e.g. "data/0123abcd") to the run's manifest, so that -force
// may delete them. The runner records its own files.
func (w *Work) Record(rel string) error { return recordFiles(w.Out, rel) }

// foreignFiles lists the files of out that this program did not write and
// record: not in manifest.json, not under a recorded point's points/<dir>
// or params/<dir>, not the runner's bookkeeping.
func foreignFiles(out string) ([]string, error) {
	m, err := readManifest(out)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", filepath.Join(out, manifestName), err)
	}
	files, err := listFiles(out, ".")
	if err != nil {
		return nil, err
	}
	var foreign []string
	for _, f := range files {
		if _, ok := m.Files[f]; ok || ownedBy(m, f) {
			continue
		}
		foreign = append(foreign, f)
	}
	return foreign, nil
}

// ownedBy reports whether f lies in the directory of a point whose
// config.json the manifest records (points/<dir>/... or params/<dir>/...):
// the point's files, written by the runner and the point function,
// finished or not.
func ownedBy(m Manifest, f string) bool {
	parts := strings.Split(f, "/")
	if len(parts) < 3 || parts[0] != "points" && parts[0] != "params" {
		return false
	}
	_, ok := m.Files["points/"+parts[1]+"/config.json"]
	return ok
}

// removeRun deletes the files of out that this program recorded, and the
// directories they leave empty; it deletes nothing when out holds any
// other file, and names it.
func removeRun(out string) error {
	foreign, err := foreignFiles(out)
	if err != nil {
		return err
	}
	if len(foreign) > 0 {
		more := ""
		if len(foreign) > 5 {
			more = fmt.Sprintf(" and %d more", len(foreign)-5)
			foreign = foreign[:5]
		}
		return &InputError{Err: fmt.Errorf("output directory %s holds files this program did not write: %s%s; nothing was deleted. Move them away, or use another -out",
			out, strings.Join(foreign, ", "), more)}
	}
	files, err := listFiles(out, ".")
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := os.Remove(filepath.Join(out, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	// Bookkeeping below the top level (point locks, temporaries), then
	// the directories left empty.
	for _, name := range []string{"points", "params", "plots", "data", "slurm"} {
		filepath.WalkDir(filepath.Join(out, name), func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && isControl(d.Name()) {
				os.Remove(path)
			}
			return nil
		})
		removeEmptyDirs(filepath.Join(out, name))
	}
	os.Remove(filepath.Join(out, manifestName))
	return nil
}

// removeEmptyDirs removes dir and the directories below it that hold no
// file.
func removeEmptyDirs(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, en := range entries {
		if en.IsDir() {
			removeEmptyDirs(filepath.Join(dir, en.Name()))
		}
	}
	os.Remove(dir) // fails unless empty
}

// pointSums is points/<dir>/files.json, written before result.json: the
// point's identity and the SHA-256 of each of its files (paths relative
// to the result directory), result.json included.
type pointSums struct {
	ID    string            `json:"id"`
	Files map[string]string `json:"files"`
}

const sumsName = "files.json"

// writePointSums records the checksums of a finished point's files:
// everything under points/<dir> and params/<dir> (but config.json,
// checkpoint.json and files.json) and result.json, whose bytes are given
// because it is written after.
func writePointSums(out string, pt Point, result []byte) error {
	s := pointSums{ID: pt.ID, Files: map[string]string{}}
	for _, rel := range []string{"points/" + pt.Dir, "params/" + pt.Dir} {
		if _, err := os.Stat(filepath.Join(out, rel)); errors.Is(err, os.ErrNotExist) {
			continue
		}
		files, err := listFiles(out, rel)
		if err != nil {
			return err
		}
		for _, f := range files {
			switch filepath.Base(f) {
			case "config.json", "checkpoint.json", sumsName, "result.json":
				if filepath.Dir(f) == "points/"+pt.Dir {
					continue
				}
			}
			sum, err := fileSHA256(filepath.Join(out, f))
			if err != nil {
				return err
			}
			s.Files[f] = sum
		}
	}
	h := sha256.Sum256(result)
	s.Files["points/"+pt.Dir+"/result.json"] = hex.EncodeToString(h[:])
	return WriteJSON(filepath.Join(pointDir(out, pt.Dir), sumsName), s)
}

// DamagedError is a finished point whose files do not match their
// recorded checksums: it is never used, and a run computes it again.
type DamagedError struct {
	File string // relative to the result directory
	Why  string
}

func (e *DamagedError) Error() string { return fmt.Sprintf("%s %s", e.File, e.Why) }

// verifyPoint checks a finished point's files against files.json.
func verifyPoint(out string, pt Point) error {
	rel := "points/" + pt.Dir + "/" + sumsName
	var s pointSums
	b, err := os.ReadFile(filepath.Join(out, rel))
	if err != nil {
		return &DamagedError{File: rel, Why: "is missing (no checksums recorded)"}
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return &DamagedError{File: rel, Why: "is not valid JSON: " + err.Error()}
	}
	if s.ID != pt.ID {
		return &DamagedError{File: rel, Why: "belongs to another point (identity " + s.ID + ")"}
	}
	names := make([]string, 0, len(s.Files))
	for f := range s.Files {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		sum, err := fileSHA256(filepath.Join(out, f))
		switch {
		case errors.Is(err, os.ErrNotExist):
			return &DamagedError{File: f, Why: "is missing"}
		case err != nil:
			return &DamagedError{File: f, Why: "cannot be read: " + err.Error()}
		case sum != s.Files[f]:
			return &DamagedError{File: f, Why: "does not match its recorded SHA-256 (changed or damaged since it was written)"}
		}
	}
	return nil
}
