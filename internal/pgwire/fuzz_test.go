package pgwire

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/gatetest"
)

func encode(msgs ...encoder) []byte {
	var b []byte
	for _, m := range msgs {
		b, _ = m.Encode(b)
	}
	return b
}

func FuzzStartupParams(f *testing.F) {
	f.Add([]byte("user\x00agent\x00database\x00shop\x00\x00"))
	f.Add([]byte("user\x00a\x00user\x00b\x00\x00"))
	f.Add([]byte("\x00"))
	f.Add([]byte("application_name\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		params, err := parseStartupParams(b)
		if err != nil {
			var pe *ProtocolError
			if !errors.As(err, &pe) {
				t.Fatalf("error is not a protocol error: %v", err)
			}
			return
		}
		// Round trip: what parsed re-encodes to the same bytes.
		var re []byte
		seen := map[string]bool{}
		for _, kv := range params {
			if seen[kv[0]] {
				t.Fatalf("duplicate %q accepted", kv[0])
			}
			seen[kv[0]] = true
			re = append(append(append(append(re, kv[0]...), 0), kv[1]...), 0)
		}
		re = append(re, 0)
		if !bytes.Equal(re, b) {
			t.Fatalf("round trip: %q != %q", re, b)
		}
	})
}

// FuzzFrames reads arbitrary bytes as a message stream, alternating the
// ways a message body can be consumed. It must never panic, never read a
// body over the limit into memory, and forward exactly the bytes it read.
func FuzzFrames(f *testing.F) {
	f.Add(encode(&pgproto3.Query{String: "SELECT 1"}, &pgproto3.Sync{}), uint8(0))
	f.Add([]byte{'Q', 0, 0, 0, 3}, uint8(1))
	f.Add([]byte{'D', 0xff, 0xff, 0xff, 0xff}, uint8(2))
	f.Add(append([]byte{'d', 0, 0, 0x10, 4}, make([]byte, 4096)...), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		fr := newFrameReader(bytes.NewReader(data), 64, 1024)
		var out bytes.Buffer
		w := bufio.NewWriter(&out)
		consumed := 0
		for i := 0; ; i++ {
			typ, err := fr.Next()
			if err != nil {
				break
			}
			n := fr.Len()
			switch (int(mode) + i) % 3 {
			case 0:
				body, err := fr.Body()
				if n > 1024 {
					if err == nil {
						t.Fatalf("body of %d bytes read over the limit", n)
					}
					return
				}
				if err != nil {
					return
				}
				if len(body) != n {
					t.Fatalf("body %d bytes, header says %d", len(body), n)
				}
				w.WriteByte(typ)
				w.Write([]byte{byte((n + 4) >> 24), byte((n + 4) >> 16), byte((n + 4) >> 8), byte(n + 4)})
				w.Write(body)
			case 1:
				if _, err := fr.Forward(w); err != nil {
					return
				}
			case 2:
				if err := fr.Skip(); err != nil {
					return
				}
				w.Write(data[consumed : consumed+5+n])
			}
			consumed += 5 + n
		}
		w.Flush()
		if !bytes.Equal(out.Bytes(), data[:consumed]) {
			t.Fatalf("forwarded bytes differ from the input")
		}
	})
}

func FuzzRenderParams(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1}, uint32(oidInt4), int16(1))
	f.Add([]byte("hello"), uint32(oidText), int16(0))
	f.Add([]byte{1, '{', '}'}, uint32(oidJSONB), int16(1))
	f.Add([]byte{0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, uint32(oidTimestamptz), int16(1))
	f.Fuzz(func(t *testing.T, v []byte, oid uint32, format int16) {
		out, nulls := renderParams([][]byte{v, nil}, []int16{format}, []uint32{oid, oid})
		if len(out) != 2 || nulls == nil || !nulls[1] || nulls[0] {
			t.Fatalf("out %q nulls %v", out, nulls)
		}
		if len(out[0]) > 2*maxParamText+16 {
			t.Fatalf("rendered value of %d bytes", len(out[0]))
		}
	})
}

// FuzzClientMessages runs the client loop on an arbitrary byte stream after
// start-up. Whatever arrives, the loop must end with an error (the end of
// input or a protocol error) and never panic or hang; nothing may reach the
// upstream before a step was decided.
func FuzzClientMessages(f *testing.F) {
	f.Add(encode(&pgproto3.Query{String: "SELECT 1"}))
	f.Add(encode(&pgproto3.Parse{Name: "s", Query: "SELECT $1"}, &pgproto3.Bind{PreparedStatement: "s", Parameters: [][]byte{[]byte("1")}},
		&pgproto3.Describe{ObjectType: 'P'}, &pgproto3.Execute{}, &pgproto3.Sync{}))
	f.Add(encode(&pgproto3.Parse{Query: "DROP TABLE t"}, &pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Sync{}, &pgproto3.Query{String: "SELECT 2"}))
	f.Add(encode(&pgproto3.Bind{PreparedStatement: "nope"}, &pgproto3.Execute{Portal: "x"}, &pgproto3.Close{ObjectType: 'S', Name: "s"}, &pgproto3.Sync{}))
	f.Add(encode(&pgproto3.FunctionCall{Function: 1}, &pgproto3.CopyData{Data: []byte("x")}, &pgproto3.CopyDone{}, &pgproto3.Flush{}))
	f.Add(encode(&pgproto3.Query{String: "SYNTAX ERROR"}, &pgproto3.Terminate{}))
	f.Add([]byte{'P', 0, 0, 0, 5, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, upstream, rec := fuzzConn(t, data)
		done := make(chan error, 1)
		go func() { done <- c.clientLoop() }()
		select {
		case err := <-done:
			if err == nil {
				t.Fatal("client loop ended without an error")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("client loop hung")
		}
		checkUpstream(t, upstream.Bytes(), rec)
	})
}

// checkUpstream asserts the fail-closed property on what the client loop
// wrote upstream: every Query and Parse is a statement the policy allows
// (read or transaction here), and there are no more Executes than allowed
// steps recorded before them.
func checkUpstream(t *testing.T, b []byte, rec *gatetest.Recorder) {
	t.Helper()
	fr := newFrameReader(bytes.NewReader(b), 4096, 1<<20)
	executes := 0
	for {
		typ, err := fr.Next()
		if err != nil {
			break
		}
		body, err := fr.Body()
		if errors.Is(err, io.ErrUnexpectedEOF) {
			break // a large pass-through message cut short by the end of input
		}
		if err != nil {
			t.Fatalf("the gateway wrote a malformed frame upstream: %v", err)
		}
		var text string
		switch typ {
		case 'Q':
			text, _ = cstring(body)
		case 'P':
			var m pgproto3.Parse
			if err := m.Decode(body); err != nil {
				t.Fatalf("forwarded an undecodable Parse: %v", err)
			}
			text = m.Query
		case 'E':
			executes++
			continue
		default:
			continue
		}
		class, err := fakeClassifier{}.Classify(text, nil)
		if err != nil || (class.Kind != gate.KindRead && class.Kind != gate.KindTransaction) {
			t.Fatalf("forwarded %q (%v, %v) although the policy denies it", text, class, err)
		}
	}
	allowed := 0
	for _, e := range rec.Steps() {
		if e.Decision.Action == gate.Allow {
			allowed++
		}
	}
	if executes > allowed {
		t.Fatalf("%d Executes forwarded but only %d allowed steps recorded", executes, allowed)
	}
}

func fuzzConn(t *testing.T, data []byte) (*conn, *bytes.Buffer, *gatetest.Recorder) {
	rec := gatetest.NewRecorder()
	g, err := gate.New(gate.Config{Authenticator: gatetest.Tokens{"t": {Subject: "fuzz"}},
		Policy: gatetest.AllowKinds(gate.KindRead, gate.KindTransaction), Recorder: rec})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{Gate: g, Classifier: fakeClassifier{}, MaxMessageSize: 1 << 16})
	if err != nil {
		t.Fatal(err)
	}
	sess, err := g.Open(context.Background(), gate.OpenRequest{Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	upstream := &bytes.Buffer{}
	c := &conn{srv: srv, objs: newObjects(), sess: sess}
	c.cr = newFrameReader(bytes.NewReader(data), clientBufSize, srv.cfg.MaxMessageSize)
	c.uw = bufio.NewWriter(upstream)
	// No upstream answers in this test: nothing may wait for one.
	c.objs.close()
	return c, upstream, rec
}
