package pgwire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ProtocolError is a malformed or unexpected message. The connection that
// produced it is closed with SQLSTATE 08P01.
type ProtocolError struct{ Msg string }

func (e *ProtocolError) Error() string { return "protocol violation: " + e.Msg }

func protoErrorf(format string, args ...any) error {
	return &ProtocolError{Msg: fmt.Sprintf(format, args...)}
}

// frameReader reads typed protocol messages (1 type byte, 4 length bytes,
// body) from a buffered connection.
//
// Every length is checked against max before anything is allocated. A
// message is either read whole into a reusable buffer (Body, for messages
// the gateway inspects) or copied through untouched (Forward), without
// decoding and, for messages that fit the read buffer, without copying into
// an intermediate buffer.
type frameReader struct {
	br  *bufio.Reader
	max int // largest body Body will read; Forward streams any size
	buf []byte

	typ byte
	n   int // body length of the current message
}

func newFrameReader(r io.Reader, size, max int) *frameReader {
	return &frameReader{br: bufio.NewReaderSize(r, size), max: max}
}

// Next reads the header of the next message and returns its type. The body
// must then be consumed with Body, Forward or Skip before Next is called
// again.
func (f *frameReader) Next() (byte, error) {
	hdr, err := f.br.Peek(5)
	if err != nil {
		if len(hdr) > 0 && errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, err
	}
	n := int(binary.BigEndian.Uint32(hdr[1:])) - 4
	if n < 0 {
		return 0, protoErrorf("message %q has invalid length %d", hdr[0], n+4)
	}
	f.typ, f.n = hdr[0], n
	return f.typ, nil
}

// Len is the body length of the current message.
func (f *frameReader) Len() int { return f.n }

// Body reads the current message's body into a buffer that is valid until
// the next call to Body. Bodies longer than max are a protocol error.
func (f *frameReader) Body() ([]byte, error) {
	if f.n > f.max {
		return nil, protoErrorf("message %q of %d bytes exceeds the limit of %d bytes", f.typ, f.n, f.max)
	}
	if _, err := f.br.Discard(5); err != nil {
		return nil, err
	}
	if cap(f.buf) < f.n {
		f.buf = make([]byte, f.n, max(f.n, 512))
	}
	f.buf = f.buf[:f.n]
	if _, err := io.ReadFull(f.br, f.buf); err != nil {
		return nil, unexpected(err)
	}
	return f.buf, nil
}

// Forward copies the whole current message, header included, to w. It
// returns the number of bytes written.
func (f *frameReader) Forward(w *bufio.Writer) (int, error) {
	total := 5 + f.n
	if total <= f.br.Size() {
		frame, err := f.br.Peek(total)
		if err != nil {
			return 0, unexpected(err)
		}
		nw, err := w.Write(frame)
		if err != nil {
			return nw, err
		}
		_, err = f.br.Discard(total)
		return nw, err
	}
	nw, err := io.CopyN(w, f.br, int64(total))
	if err != nil && int(nw) < total {
		return int(nw), unexpected(err)
	}
	return int(nw), err
}

// Skip discards the current message.
func (f *frameReader) Skip() error {
	_, err := f.br.Discard(5 + f.n)
	return unexpected(err)
}

// Buffered reports whether more input is already buffered, so a writer can
// coalesce its flushes: flush only before blocking on a read.
func (f *frameReader) Buffered() bool { return f.br.Buffered() > 0 }

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// encoder is a message written with pgproto3's Encode(dst) convention.
type encoder interface {
	Encode(dst []byte) ([]byte, error)
}

// writeMsg encodes m and writes it to w, reusing *scratch.
func writeMsg(w *bufio.Writer, scratch *[]byte, m encoder) error {
	b, err := m.Encode((*scratch)[:0])
	if err != nil {
		return err
	}
	*scratch = b
	_, err = w.Write(b)
	return err
}
