package mask

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// ErrLineTooLong is returned by MaskStream for a line longer than
// Config.MaxLine. Splitting it could cut a value in two halves that no
// detector recognises, so the stream stops instead (fail closed).
var ErrLineTooLong = errors.New("mask: line too long")

// MaskStream copies r to w line by line, each line masked as one free-text
// value by MaskText, and returns the counts. Line endings (LF or CR LF) are
// kept; a line whose value is nulled is written empty. A private key block
// (secret detector) spans lines: from an unterminated BEGIN line to its END
// line, the lines in between are dropped and the BEGIN line's mask stands
// for the block. Memory is bounded by Config.MaxLine; a longer line stops
// the copy with an error wrapping ErrLineTooLong, after the lines before
// it were written. Write errors are returned as they are.
func (m *Masker) MaskStream(r io.Reader, w io.Writer) (Counts, error) {
	var c Counts
	size := 64 << 10
	if size > m.maxLine+2 {
		size = m.maxLine + 2
	}
	br := bufio.NewReaderSize(r, size)
	bw := bufio.NewWriterSize(w, 64<<10)
	var long, out []byte
	inKey := false
	_, pemOn := m.detectorID("secret")
	for lineNo := 1; ; lineNo++ {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long[:0], line...) // rare: a line over the buffer
			for errors.Is(err, bufio.ErrBufferFull) && len(long) <= m.maxLine+2 {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				return c, errors.Join(fmt.Errorf("%w: line %d is over %d bytes", ErrLineTooLong, lineNo, m.maxLine), bw.Flush())
			}
			line = long
		}
		if len(line) == 0 && err != nil {
			if err == io.EOF {
				err = nil
			}
			return c, errors.Join(err, bw.Flush())
		}
		body, eol := splitEOL(line)
		if len(body) > m.maxLine {
			if ferr := bw.Flush(); ferr != nil {
				return c, ferr
			}
			return c, fmt.Errorf("%w: line %d is over %d bytes", ErrLineTooLong, lineNo, m.maxLine)
		}
		if inKey {
			k := bytes.Index(body, pemEnd)
			if k < 0 {
				continue
			}
			d := bytes.Index(body[k+len(pemEnd):], pemDash)
			if d < 0 {
				continue
			}
			body = body[k+len(pemEnd)+d+len(pemDash):]
			inKey = false
		}
		var res Result
		out, res = m.MaskText(out[:0], body, &c)
		if res != Nulled {
			if _, werr := bw.Write(out); werr != nil {
				return c, werr
			}
		}
		if _, werr := bw.Write(eol); werr != nil {
			return c, werr
		}
		if pemOn && pemOpen(body) {
			inKey = true
		}
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return c, errors.Join(err, bw.Flush())
		}
	}
}

// splitEOL splits a line from its LF or CR LF ending.
func splitEOL(line []byte) (body, eol []byte) {
	n := len(line)
	if n > 0 && line[n-1] == '\n' {
		if n > 1 && line[n-2] == '\r' {
			return line[:n-2], line[n-2:]
		}
		return line[:n-1], line[n-1:]
	}
	return line, nil
}
