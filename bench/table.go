package main

import (
	"fmt"
	"strings"
)

// table is a Markdown table whose columns are padded to line up in a
// terminal too. Cells that look like numbers are right-aligned.
type table struct {
	head []string
	rows [][]string
}

func (t *table) add(cells ...any) {
	row := make([]string, len(cells))
	for i, c := range cells {
		row[i] = fmt.Sprint(c)
	}
	t.rows = append(t.rows, row)
}

func (t *table) markdown() string {
	width := make([]int, len(t.head))
	numeric := make([]bool, len(t.head))
	for i, h := range t.head {
		width[i] = len(h)
		numeric[i] = true
	}
	for _, row := range t.rows {
		for i, c := range row {
			width[i] = max(width[i], len(c))
			if c != "" && c != "-" && strings.Trim(c, "0123456789.-") != "" {
				numeric[i] = false
			}
		}
	}
	var b strings.Builder
	line := func(cells []string) {
		b.WriteString("|")
		for i, c := range cells {
			if numeric[i] {
				fmt.Fprintf(&b, " %*s |", width[i], c)
			} else {
				fmt.Fprintf(&b, " %-*s |", width[i], c)
			}
		}
		b.WriteString("\n")
	}
	line(t.head)
	b.WriteString("|")
	for i := range t.head {
		if numeric[i] {
			b.WriteString(" " + strings.Repeat("-", max(width[i]-1, 2)) + ": |")
		} else {
			b.WriteString(" " + strings.Repeat("-", max(width[i], 3)) + " |")
		}
	}
	b.WriteString("\n")
	for _, row := range t.rows {
		line(row)
	}
	return b.String()
}
