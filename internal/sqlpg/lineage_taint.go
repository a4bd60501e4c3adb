package sqlpg

// taint is the lineage of one value: the protected columns it derives
// from, and whether its lineage is unknown. The zero taint is a value that
// derives from no protected column.
type taint struct {
	// src holds protected column ids (indexes into Protected.cols),
	// sorted and unique. Slices are shared between taints: never modify
	// one in place.
	src []int32
	// why is non-empty when the lineage cannot be determined: the first
	// reason found.
	why string
	// note names the first derivation worth telling a human about
	// ("whole-row reference to public.customers").
	note string
}

func (t taint) clean() bool { return len(t.src) == 0 && t.why == "" }

// union is the lineage of a value computed from a and b.
func union(a, b taint) taint {
	out := a
	if out.why == "" {
		out.why = b.why
	}
	if out.note == "" {
		out.note = b.note
	}
	out.src = mergeIDs(a.src, b.src)
	return out
}

// mergeIDs returns the sorted union of two sorted id lists, reusing one
// of them when it already holds the other.
func mergeIDs(a, b []int32) []int32 {
	switch {
	case len(b) == 0:
		return a
	case len(a) == 0:
		return b
	}
	if containsAll(a, b) {
		return a
	}
	if containsAll(b, a) {
		return b
	}
	out := make([]int32, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			out = append(out, a[i])
			i++
		case a[i] > b[j]:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

// containsAll reports whether sorted a holds every id of sorted b.
func containsAll(a, b []int32) bool {
	if len(b) > len(a) {
		return false
	}
	i := 0
	for _, x := range b {
		for i < len(a) && a[i] < x {
			i++
		}
		if i == len(a) || a[i] != x {
			return false
		}
		i++
	}
	return true
}

// val is the lineage of an expression's value. A composite value whose
// fields are known (a whole-row reference, ROW(...), a composite column of
// a subquery) keeps them, so that (x).field selects one field's lineage;
// its taint is always the union of its fields' taints and more.
type val struct {
	taint
	fields []col // nil when not a known composite
}

// col is a named value: a column of a FROM item, an output column, a
// field of a composite.
type col struct {
	name string
	v    val
}

// scalar drops what is known about a composite's fields.
func (v val) scalar() val { return val{taint: v.taint} }

// unionVal is a value computed from a and b (a scalar).
func unionVal(a, b val) val { return val{taint: union(a.taint, b.taint)} }

// composite builds a known composite of cols, noting why it matters.
func composite(cols []col, note string) val {
	var t taint
	for _, c := range cols {
		t = union(t, c.v.taint)
	}
	if !t.clean() && note != "" {
		t.note = note
	}
	return val{taint: t, fields: cols}
}

// unionCols merges two column lists position by position (the branches of
// a UNION, the rows of VALUES); names and count come from a, as the
// server's do (it refuses branches of different widths).
func unionCols(a, b []col) []col {
	out := make([]col, len(a))
	for i := range out {
		if i < len(b) {
			out[i] = col{name: a[i].name, v: mergeVal(a[i].v, b[i].v)}
		} else {
			out[i] = a[i]
		}
	}
	return out
}

// mergeVal merges two values that occupy the same place (two branches of a
// set operation): composites with the same field count keep their fields.
func mergeVal(a, b val) val {
	if a.fields != nil && b.fields != nil && len(a.fields) == len(b.fields) {
		return val{taint: union(a.taint, b.taint), fields: unionCols(a.fields, b.fields)}
	}
	return unionVal(a, b)
}

// withTaint adds t to every column of cols (a set-returning function's
// arguments, a correlated subquery's outer references).
func withTaint(cols []col, t taint) []col {
	if t.clean() {
		return cols
	}
	out := make([]col, len(cols))
	for i, c := range cols {
		out[i] = col{name: c.name, v: addTaint(c.v, t)}
	}
	return out
}

// addTaint adds t to v and, when v is a known composite, to each of its
// fields, so that selecting a field keeps t.
func addTaint(v val, t taint) val {
	if t.clean() {
		return v
	}
	out := val{taint: union(v.taint, t)}
	if v.fields != nil {
		out.fields = withTaint(v.fields, t)
	}
	return out
}
