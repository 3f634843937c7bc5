package textdiff

// Ops returns an edit script turning lines a into lines b: a shortest one
// (Myers' O(ND) algorithm, in linear space) unless the two texts differ so
// much that finding the shortest would take too long; then, as GNU diff
// does, it settles for a short one, which is just as correct to apply.
// Within a run of changes, deletions come before insertions.
func Ops(a, b []string) []Op {
	return ops(a, b, 0)
}

// ops is Ops with the cost bound given; 0 means GNU diff's bound. Tests
// lower it to reach the give-up path on small inputs.
func ops(a, b []string, tooExpensive int) []Op {
	// Lines are compared as integers, and a line that appears on only
	// one side is an edit whatever the alignment: leave it out of the
	// search, which then runs on the lines that could match. On two
	// unrelated files this makes the search empty instead of quadratic.
	ids := make(map[string]int, len(a)+len(b))
	ai, bi := intern(ids, a), intern(ids, b)
	inA, inB := make([]bool, len(ids)), make([]bool, len(ids))
	for _, id := range ai {
		inA[id] = true
	}
	for _, id := range bi {
		inB[id] = true
	}
	m := &myers{del: make([]bool, len(a)), ins: make([]bool, len(b))}
	var aIdx, bIdx []int // positions in a, b of the lines kept for the search
	for i, id := range ai {
		if inB[id] {
			m.a, aIdx = append(m.a, id), append(aIdx, i)
		} else {
			m.del[i] = true
		}
	}
	for j, id := range bi {
		if inA[id] {
			m.b, bIdx = append(m.b, id), append(bIdx, j)
		} else {
			m.ins[j] = true
		}
	}
	m.aIdx, m.bIdx = aIdx, bIdx
	diags := len(m.a) + len(m.b) + 3
	m.fd, m.bd = make([]int, diags), make([]int, diags)
	m.off = len(m.b) + 1
	// GNU diff's bound: about the square root of the input size, and never
	// less than 4096 edits, so ordinary files always get a shortest diff.
	m.tooExpensive = tooExpensive
	if m.tooExpensive <= 0 {
		m.tooExpensive = 1
		for d := diags; d != 0; d >>= 2 {
			m.tooExpensive <<= 1
		}
		m.tooExpensive = max(m.tooExpensive, 4096)
	}
	m.compare(0, len(m.a), 0, len(m.b))

	ops := make([]Op, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && m.del[i]:
			ops = append(ops, Op{Delete, a[i]})
			i++
		case j < len(b) && m.ins[j]:
			ops = append(ops, Op{Insert, b[j]})
			j++
		default:
			ops = append(ops, Op{Equal, a[i]})
			i++
			j++
		}
	}
	return ops
}

func intern(ids map[string]int, lines []string) []int {
	out := make([]int, len(lines))
	for i, l := range lines {
		id, ok := ids[l]
		if !ok {
			id = len(ids)
			ids[l] = id
		}
		out[i] = id
	}
	return out
}

// myers holds the state of one comparison: the sequences searched, where
// their elements came from, the marks it sets, and the diagonal vectors of
// the forward and backward searches (indexed by diagonal k = x-y, offset).
type myers struct {
	a, b         []int
	aIdx, bIdx   []int
	del, ins     []bool
	fd, bd       []int
	off          int
	tooExpensive int
}

// compare marks the edits that turn a[xoff:xlim] into b[yoff:ylim].
func (m *myers) compare(xoff, xlim, yoff, ylim int) {
	for xoff < xlim && yoff < ylim && m.a[xoff] == m.b[yoff] {
		xoff++
		yoff++
	}
	for xoff < xlim && yoff < ylim && m.a[xlim-1] == m.b[ylim-1] {
		xlim--
		ylim--
	}
	switch {
	case xoff == xlim:
		for y := yoff; y < ylim; y++ {
			m.ins[m.bIdx[y]] = true
		}
	case yoff == ylim:
		for x := xoff; x < xlim; x++ {
			m.del[m.aIdx[x]] = true
		}
	default:
		xmid, ymid := m.split(xoff, xlim, yoff, ylim)
		m.compare(xoff, xmid, yoff, ymid)
		m.compare(xmid, xlim, ymid, ylim)
	}
}

// split finds a point (xmid, ymid) on a shortest (or, past the cost bound,
// a short) edit path through the box by searching from both corners until
// the searches meet: the "middle snake". It follows diffseq.h of GNU
// diffutils. The box is non-empty on both sides and its first and last
// lines differ, so the point found is strictly inside it on one axis.
func (m *myers) split(xoff, xlim, yoff, ylim int) (int, int) {
	fd, bd, o := m.fd, m.bd, m.off
	dmin, dmax := xoff-ylim, xlim-yoff
	fmid, bmid := xoff-yoff, xlim-ylim
	fmin, fmax, bmin, bmax := fmid, fmid, bmid, bmid
	odd := (fmid-bmid)&1 != 0
	fd[o+fmid] = xoff
	bd[o+bmid] = xlim
	for c := 1; ; c++ {
		// One more edit forward on every diagonal in reach.
		if fmin > dmin {
			fmin--
			fd[o+fmin-1] = -1
		} else {
			fmin++
		}
		if fmax < dmax {
			fmax++
			fd[o+fmax+1] = -1
		} else {
			fmax--
		}
		for d := fmax; d >= fmin; d -= 2 {
			tlo, thi := fd[o+d-1], fd[o+d+1]
			x := thi
			if tlo >= thi {
				x = tlo + 1
			}
			y := x - d
			for x < xlim && y < ylim && m.a[x] == m.b[y] {
				x++
				y++
			}
			fd[o+d] = x
			if odd && bmin <= d && d <= bmax && bd[o+d] <= x {
				return x, y
			}
		}
		// And one more backward.
		if bmin > dmin {
			bmin--
			bd[o+bmin-1] = int(^uint(0) >> 1)
		} else {
			bmin++
		}
		if bmax < dmax {
			bmax++
			bd[o+bmax+1] = int(^uint(0) >> 1)
		} else {
			bmax--
		}
		for d := bmax; d >= bmin; d -= 2 {
			tlo, thi := bd[o+d-1], bd[o+d+1]
			x := tlo
			if tlo >= thi {
				x = thi - 1
			}
			y := x - d
			for x > xoff && y > yoff && m.a[x-1] == m.b[y-1] {
				x--
				y--
			}
			bd[o+d] = x
			if !odd && fmin <= d && d <= fmax && x <= fd[o+d] {
				return x, y
			}
		}
		if c >= m.tooExpensive {
			return m.giveUp(xoff, xlim, yoff, ylim, fmin, fmax, bmin, bmax)
		}
	}
}

// giveUp ends a search that has cost too much: it takes the furthest point
// either search has reached, which splits the box into two smaller ones
// without promising the shortest path through it.
func (m *myers) giveUp(xoff, xlim, yoff, ylim, fmin, fmax, bmin, bmax int) (int, int) {
	fd, bd, o := m.fd, m.bd, m.off
	fxybest, fxbest := -1, 0
	for d := fmax; d >= fmin; d -= 2 {
		x := min(fd[o+d], xlim)
		y := x - d
		if y > ylim {
			x, y = ylim+d, ylim
		}
		if x+y > fxybest {
			fxybest, fxbest = x+y, x
		}
	}
	bxybest, bxbest := int(^uint(0)>>1), 0
	for d := bmax; d >= bmin; d -= 2 {
		x := max(xoff, bd[o+d])
		y := x - d
		if y < yoff {
			x, y = yoff+d, yoff
		}
		if x+y < bxybest {
			bxybest, bxbest = x+y, x
		}
	}
	if (xlim+ylim)-bxybest < fxybest-(xoff+yoff) {
		return fxbest, fxybest - fxbest
	}
	return bxbest, bxybest - bxbest
}
