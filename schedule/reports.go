package schedule

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/ctsec/ctsec/internal/clock"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/safefile"
)

// Record is one run of a job, as kept.
type Record struct {
	Job  string    `json:"job"`
	Time time.Time `json:"time"`
	// Exit is the job command's exit status (0 ran; 2 could not run).
	Exit  int    `json:"exit"`
	Error string `json:"error,omitempty"`
	// Summary counts the run's findings; Diff says what changed since the
	// previous kept run.
	Summary report.Summary `json:"summary"`
	Diff    Diff           `json:"diff"`
	// Report is the job's own JSON report, as the command printed it.
	Report json.RawMessage `json:"report,omitempty"`
	// File is where the record is kept (not stored in it).
	File string `json:"-"`
}

// Diff is what changed between two runs of a job.
type Diff struct {
	// Previous is the run compared with ("" for the first run).
	Previous     string           `json:"previous,omitempty"`
	PreviousTime time.Time        `json:"previous_time,omitzero"`
	New          []report.Finding `json:"new"`
	Fixed        []report.Finding `json:"fixed"`
	Unchanged    int              `json:"unchanged"`
}

// findingKey is what makes two runs' findings the same one: the rule, what
// it is about and where, and what it says — not the line, which moves
// when a file is edited above it.
func findingKey(f report.Finding) string {
	return f.Rule + "\x00" + f.Target + "\x00" + f.File + "\x00" + f.Path + "\x00" + f.Message
}

// Compare says which findings of cur are new since prev and which of prev
// are fixed in cur.
func Compare(prev, cur []report.Finding) Diff {
	d := Diff{New: []report.Finding{}, Fixed: []report.Finding{}}
	before := map[string]int{}
	for _, f := range prev {
		before[findingKey(f)]++
	}
	now := map[string]int{}
	for _, f := range cur {
		k := findingKey(f)
		now[k]++
		if now[k] > before[k] {
			d.New = append(d.New, f)
		} else {
			d.Unchanged++
		}
	}
	seen := map[string]int{}
	for _, f := range prev {
		k := findingKey(f)
		seen[k]++
		if seen[k] > now[k] {
			d.Fixed = append(d.Fixed, f)
		}
	}
	report.Sort(d.New)
	report.Sort(d.Fixed)
	return d
}

// Reports keeps each job's runs under Dir/reports/JOB, one file a run.
type Reports struct {
	Dir   string // the state directory
	Clock clock.Clock
}

// maxRecord bounds a kept report read back: bench on a large host is a
// few MiB.
const maxRecord = 64 << 20

var recordName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\d{8}T\d{6}\.\d{6}Z-[0-9a-f]{6}\.json$`) })

func (r Reports) jobDir(job string) (string, error) {
	if _, err := Find(job); err != nil {
		return "", err
	}
	return filepath.Join(r.Dir, "reports", job), nil
}

// List names the kept runs of job, oldest first.
func (r Reports) List(job string) ([]string, error) {
	dir, err := r.jobDir(job)
	if err != nil {
		return nil, err
	}
	if err := safefile.CheckStateDir(dir); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	es, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range es {
		if e.Type().IsRegular() && recordName().MatchString(e.Name()) {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(out) // names start with the time, to the microsecond
	return out, nil
}

// Load reads a kept run.
func (r Reports) Load(file string) (*Record, error) {
	b, err := safefile.ReadState(file, maxRecord)
	if err != nil {
		return nil, fmt.Errorf("reading the report %s: %w", file, err)
	}
	var rec Record
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("reading the report %s: %w", file, err)
	}
	rec.File = file
	return &rec, nil
}

// Latest is the newest kept run of job, nil when there is none.
func (r Reports) Latest(job string) (*Record, error) {
	files, err := r.List(job)
	if err != nil || len(files) == 0 {
		return nil, err
	}
	return r.Load(files[len(files)-1])
}

// Save keeps rec as the newest run of its job, with its diff against the
// previous kept run (of any outcome that had a report), then removes the
// oldest runs beyond keep.
func (r Reports) Save(rec *Record, findings []report.Finding, keep int) error {
	dir, err := r.jobDir(rec.Job)
	if err != nil {
		return err
	}
	if err := safefile.MakeStateDir(dir); err != nil {
		return err
	}
	files, err := r.List(rec.Job)
	if err != nil {
		return err
	}
	var prev []report.Finding
	rec.Diff = Diff{New: []report.Finding{}, Fixed: []report.Finding{}}
	for i := len(files) - 1; i >= 0; i-- {
		p, err := r.Load(files[i])
		if err != nil {
			return err
		}
		if len(p.Report) == 0 {
			continue // a run that could not run has nothing to compare
		}
		if prev, err = findingsOf(p.Report); err != nil {
			return fmt.Errorf("%s: %w", files[i], err)
		}
		rec.Diff = Compare(prev, findings)
		rec.Diff.Previous, rec.Diff.PreviousTime = filepath.Base(files[i]), p.Time
		break
	}
	if rec.Diff.Previous == "" {
		rec.Diff.New = append(rec.Diff.New, findings...)
		report.Sort(rec.Diff.New)
	}
	rec.Time = clock.Or(r.Clock).Now().UTC()
	var sfx [3]byte
	rand.Read(sfx[:])
	name := rec.Time.Format("20060102T150405.000000Z") + "-" + hex.EncodeToString(sfx[:]) + ".json"
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	rec.File = filepath.Join(dir, name)
	if err := safefile.WriteFile(rec.File, append(b, '\n'), 0o600); err != nil {
		return err
	}
	if keep > 0 {
		files, err := r.List(rec.Job)
		if err != nil {
			return err
		}
		for len(files) > keep {
			if err := os.Remove(files[0]); err != nil {
				return fmt.Errorf("rotating the reports of %s: %w", rec.Job, err)
			}
			files = files[1:]
		}
	}
	return nil
}

// findingsOf reads the findings of a JSON report.
func findingsOf(raw json.RawMessage) ([]report.Finding, error) {
	var r struct {
		Findings []report.Finding `json:"findings"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, err
	}
	return r.Findings, nil
}

// Findings reads the findings of a job's JSON report, for the caller that
// runs the job.
func Findings(raw []byte) ([]report.Finding, error) { return findingsOf(raw) }
