package safefile

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/ctsec/ctsec/internal/clock"
	"github.com/ctsec/ctsec/internal/rootfs"
)

// DefaultStateDir is where backups live unless --state-dir says otherwise.
const DefaultStateDir = "/var/lib/ctsec"

// Store keeps backups under Dir/backups/<id>/, one directory per change, each
// with a manifest.json. A change directory is created exclusively and never
// reused, so a backup is never overwritten.
type Store struct {
	Dir   string
	Clock clock.Clock // dates change ids and manifests; nil is the system clock
}

// Manifest describes one change: what it was and the state of every file it
// touched before it touched it.
type Manifest struct {
	ID      string       `json:"id"`
	Time    time.Time    `json:"time"`
	Command string       `json:"command"`
	Note    string       `json:"note,omitempty"`
	Files   []FileRecord `json:"files"`
}

// FileRecord is one file as it was. Existed=false means the change created
// it, so restoring removes it. With Root set, Path is a host path inside
// that root and is restored through it (symlinks resolved inside the root);
// without, Path is an absolute path on this machine.
type FileRecord struct {
	Root    string      `json:"root,omitempty"`
	Path    string      `json:"path"`
	Existed bool        `json:"existed"`
	Mode    fs.FileMode `json:"mode,omitempty"`
	UID     int         `json:"uid,omitempty"`
	GID     int         `json:"gid,omitempty"`
	SHA256  string      `json:"sha256,omitempty"`
	Backup  string      `json:"backup,omitempty"` // file name inside the change directory
}

// Change is a backup being recorded.
type Change struct {
	store    *Store
	manifest Manifest
	dir      string
	seen     map[string]bool
}

func (s *Store) backupsDir() string { return filepath.Join(s.Dir, "backups") }

// NewChange starts recording a change made by command.
func (s *Store) NewChange(command string) (*Change, error) {
	if err := MakeStateDir(s.backupsDir()); err != nil {
		return nil, err
	}
	now := clock.Or(s.Clock).Now().UTC()
	var suffix [3]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		return nil, err
	}
	id := now.Format("20060102T150405Z") + "-" + hex.EncodeToString(suffix[:])
	dir := filepath.Join(s.backupsDir(), id)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating backup %s: %w", dir, err)
	}
	c := &Change{store: s, dir: dir, seen: map[string]bool{},
		manifest: Manifest{ID: id, Time: now, Command: command}}
	return c, c.writeManifest()
}

// ID names the change for rollback.
func (c *Change) ID() string { return c.manifest.ID }

// SetNote records a human description shown by history listings.
func (c *Change) SetNote(note string) error {
	c.manifest.Note = note
	return c.writeManifest()
}

// maxBackup bounds one backed-up file: ctsec replaces configuration files,
// profiles and stack files, never anything this large.
const maxBackup = 64 << 20

// Save records path as it is now, before the caller changes it. Saving the
// same path twice keeps the first (original) state. The manifest is written
// after every file so a crash mid-change still leaves a restorable backup.
func (c *Change) Save(path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	return c.save(rootfs.New("/"), abs, FileRecord{Path: abs})
}

// SaveIn is Save for the host path p of a host under root: the file is read
// through the root, and restored through it.
func (c *Change) SaveIn(root rootfs.Root, p string) error {
	p = filepath.Clean("/" + p)
	rec := FileRecord{Path: p}
	if !root.IsHost() {
		rec.Root = root.Dir()
	}
	return c.save(root, p, rec)
}

func (c *Change) save(root rootfs.Root, p string, rec FileRecord) error {
	key := rec.Root + "\x00" + p
	if c.seen[key] {
		return nil
	}
	name := root.Join(p)
	st, err := root.Lstat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("backing up %s: %w", name, err)
	case !st.Mode().IsRegular():
		return fmt.Errorf("backing up %s: not a regular file", name)
	default:
		data, err := root.ReadFile(p, maxBackup)
		if err != nil {
			return fmt.Errorf("backing up: %w", err)
		}
		sum := sha256.Sum256(data)
		rec.Existed = true
		rec.Mode = st.Mode().Perm()
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			rec.UID, rec.GID = int(sys.Uid), int(sys.Gid)
		}
		rec.SHA256 = hex.EncodeToString(sum[:])
		rec.Backup = fmt.Sprintf("%03d-%s", len(c.manifest.Files), filepath.Base(p))
		if err := writeNew(filepath.Join(c.dir, rec.Backup), data); err != nil {
			return fmt.Errorf("backing up %s: %w", name, err)
		}
	}
	c.seen[key] = true
	c.manifest.Files = append(c.manifest.Files, rec)
	return c.writeManifest()
}

// Replace saves path as it is (see Save), then writes data over it
// atomically: the one way ctsec replaces a file the user may want back. The
// file keeps its mode and owner; a new file gets perm.
func (c *Change) Replace(path string, data []byte, perm fs.FileMode) error {
	if err := c.Save(path); err != nil {
		return err
	}
	if err := WriteFile(path, data, perm); err != nil {
		return fmt.Errorf("writing %s (backed up in change %s): %w", path, c.ID(), err)
	}
	return nil
}

// Replace writes data over path after backing up what is there in a new
// change recorded for command, and returns the change's id. When the file
// cannot be backed up or written, nothing was changed and the change is
// discarded.
func (s *Store) Replace(command, path string, data []byte, perm fs.FileMode) (string, error) {
	c, err := s.NewChange(command)
	if err != nil {
		return "", err
	}
	if err := c.Replace(path, data, perm); err != nil {
		c.Discard()
		return "", err
	}
	return c.ID(), nil
}

// Discard removes a change that was started but changed nothing (its
// write was refused): a backup directory of a change that never happened
// would be listed, and rolled back, as one.
func (c *Change) Discard() error {
	return os.RemoveAll(c.dir)
}

func (c *Change) writeManifest() error {
	b, err := json.MarshalIndent(c.manifest, "", "  ")
	if err != nil {
		return err
	}
	return WriteFile(filepath.Join(c.dir, "manifest.json"), append(b, '\n'), 0o600)
}

// writeNew refuses to overwrite: a backup, once written, is never replaced.
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// List returns every recorded change, oldest first.
func (s *Store) List() ([]Manifest, error) {
	if err := CheckStateDir(s.backupsDir()); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(s.backupsDir())
	if err != nil {
		return nil, fmt.Errorf("listing backups in %s: %w", s.Dir, err)
	}
	var out []Manifest
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		m, err := s.Load(e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	// Ids carry the time to the second only: order by the full time, so two
	// changes made within one second still list in the order they were made.
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Time.Equal(out[j].Time) {
			return out[i].Time.Before(out[j].Time)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// Load reads the manifest of change id.
func (s *Store) Load(id string) (Manifest, error) {
	if id == "" || strings.ContainsAny(id, `/\`) || id == "." || id == ".." {
		return Manifest{}, fmt.Errorf("invalid backup id %q", id)
	}
	if err := CheckStateDir(s.backupsDir()); err != nil {
		return Manifest{}, fmt.Errorf("reading backup %s: %w", id, err)
	}
	if err := CheckStateDir(filepath.Join(s.backupsDir(), id)); err != nil {
		return Manifest{}, fmt.Errorf("reading backup %s: %w", id, err)
	}
	p := filepath.Join(s.backupsDir(), id, "manifest.json")
	b, err := ReadState(p, 16<<20)
	if err != nil {
		return Manifest{}, fmt.Errorf("reading backup %s: %w", id, err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return Manifest{}, fmt.Errorf("reading %s: %w", p, err)
	}
	for _, f := range m.Files {
		if err := f.check(); err != nil {
			return Manifest{}, fmt.Errorf("%s: %w", p, err)
		}
	}
	return m, nil
}

// check refuses a record that could not have been written by Save: a
// relative path, or a backup name that leaves the change directory.
func (f FileRecord) check() error {
	switch {
	case !filepath.IsAbs(f.Path) || (f.Root != "" && !filepath.IsAbs(f.Root)):
		return fmt.Errorf("file record %q is not an absolute path", f.Path)
	case f.Existed && (f.Backup == "" || f.Backup != filepath.Base(f.Backup) || strings.HasPrefix(f.Backup, ".")):
		return fmt.Errorf("file record %q names no backup in its change directory", f.Path)
	case f.Mode&^fs.ModePerm != 0:
		return fmt.Errorf("file record %q has mode %v", f.Path, f.Mode)
	}
	return nil
}

// Restore puts every file of change id back as it was before the change:
// content, mode and owner; files the change created are removed. Files are
// restored in reverse order of saving. Content is checked against the
// recorded hash before anything is written.
func (s *Store) Restore(id string) (Manifest, error) {
	m, err := s.Load(id)
	if err != nil {
		return m, err
	}
	dir := filepath.Join(s.backupsDir(), id)
	contents := make([][]byte, len(m.Files))
	for i, f := range m.Files {
		if !f.Existed {
			continue
		}
		data, err := ReadState(filepath.Join(dir, f.Backup), maxBackup)
		if err != nil {
			return m, fmt.Errorf("reading backup of %s: %w", f.Path, err)
		}
		sum := sha256.Sum256(data)
		if hex.EncodeToString(sum[:]) != f.SHA256 {
			return m, fmt.Errorf("backup of %s in %s is corrupt (checksum mismatch); nothing restored", f.Path, dir)
		}
		contents[i] = data
	}
	for i := len(m.Files) - 1; i >= 0; i-- {
		f := m.Files[i]
		root := rootfs.New(f.Root)
		if !f.Existed {
			if err := root.Remove(f.Path); err != nil {
				return m, fmt.Errorf("removing: %w", err)
			}
			continue
		}
		if _, err := root.MkdirAll(filepath.Dir(f.Path), 0o755); err != nil {
			return m, fmt.Errorf("restoring: %w", err)
		}
		if err := root.WriteFile(f.Path, contents[i], f.Mode, rootfs.Owner(f.UID, f.GID)); err != nil {
			return m, fmt.Errorf("restoring: %w", err)
		}
	}
	return m, nil
}
