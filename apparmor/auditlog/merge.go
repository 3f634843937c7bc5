package auditlog

import (
	"errors"
	"io"
	"time"
)

// Source is anything that yields events: a Reader, or a Merge of readers.
type Source interface {
	Next() (*Event, error)
}

// DefaultDedupWindow is how far apart in event time two copies of one event
// may be and still be recognised. Both copies carry the same stamp, and the
// merge delivers inputs in time order, so copies meet within seconds; the
// window only absorbs inputs that are not quite in order.
const DefaultDedupWindow = 2 * time.Minute

// Merge interleaves several sources by event time and drops the copies of an
// event that arrive through more than one of them (same audit stamp). Logs
// are each close to time order, so remembering stamps for a sliding window
// keeps memory bounded by the event rate, not by the size of the logs.
type Merge struct {
	sources []Source
	heads   []*Event
	done    []bool
	window  time.Duration

	seen   map[Key]struct{}
	order  []Key // FIFO of seen keys for eviction; order[start:] are live
	start  int
	newest int64

	Duplicates int64
}

// NewMerge merges sources with DefaultDedupWindow.
func NewMerge(sources ...Source) *Merge {
	return &Merge{
		sources: sources,
		heads:   make([]*Event, len(sources)),
		done:    make([]bool, len(sources)),
		window:  DefaultDedupWindow,
		seen:    map[Key]struct{}{},
	}
}

// Next returns the earliest pending event not seen before, or io.EOF. Like
// Reader.Next, the event is valid until the next call.
func (m *Merge) Next() (*Event, error) {
	for {
		best := -1
		for i, src := range m.sources {
			if m.done[i] {
				continue
			}
			if m.heads[i] == nil {
				ev, err := src.Next()
				if errors.Is(err, io.EOF) {
					m.done[i] = true
					continue
				}
				if err != nil {
					return nil, err
				}
				m.heads[i] = ev
			}
			if best < 0 || earlier(m.heads[i], m.heads[best]) {
				best = i
			}
		}
		if best < 0 {
			return nil, io.EOF
		}
		ev := m.heads[best]
		m.heads[best] = nil
		if m.duplicate(ev) {
			m.Duplicates++
			continue
		}
		return ev, nil
	}
}

// earlier orders events without a time first: they cannot be placed, and
// holding them back would hold everything behind them.
func earlier(a, b *Event) bool {
	if a.Time.IsZero() || b.Time.IsZero() {
		return a.Time.IsZero() && !b.Time.IsZero()
	}
	return a.Time.Before(b.Time)
}

func (m *Merge) duplicate(ev *Event) bool {
	k, ok := ev.Key()
	if !ok {
		return false
	}
	if _, dup := m.seen[k]; dup {
		return true
	}
	m.seen[k] = struct{}{}
	m.order = append(m.order, k)
	m.newest = max(m.newest, k.Epoch)
	limit := m.newest - int64(m.window/time.Second)
	for m.start < len(m.order) && m.order[m.start].Epoch < limit {
		delete(m.seen, m.order[m.start])
		m.start++
	}
	if m.start > 1024 && m.start > len(m.order)/2 { // compact, amortised O(1)
		m.order = append(m.order[:0], m.order[m.start:]...)
		m.start = 0
	}
	return false
}
