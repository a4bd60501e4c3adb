package pgwire

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/gatehouse/gatehouse/internal/mask"
)

func dataRow(vals ...string) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(len(vals)))
	for _, v := range vals {
		b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
		b = append(b, v...)
	}
	return b
}

// The relay's steady state allocates nothing per row: rows that need no
// masking are copied frame to frame, and masked rows are rewritten into
// reused buffers.
func TestNoAllocationsPerRow(t *testing.T) {
	m, err := mask.New(mask.Config{Detectors: []string{"all"}, Strategy: "redact"})
	if err != nil {
		t.Fatal(err)
	}
	rd := &pgproto3.RowDescription{Fields: []pgproto3.FieldDescription{
		{Name: []byte("id"), DataTypeOID: oidInt4}, {Name: []byte("email"), DataTypeOID: oidText}, {Name: []byte("notes"), DataTypeOID: oidText},
	}}
	plan := newRowPlan(&Masking{Masker: m}, rd, stmtVerdict{{}, {protected: "public.customers.email"}, {}}, nil)
	body := dataRow("42", "ada@example.org", "called about card 4111 1111 1111 1111 yesterday")
	var dst, scratch []byte
	var counts mask.Counts
	if a := testing.AllocsPerRun(200, func() {
		dst, _ = plan.rewriteRow(dst[:0], body, &scratch, &counts)
	}); a != 0 {
		t.Fatalf("rewriteRow allocates %.1f times per row", a)
	}
	// Pass-through: frames copied from the upstream reader to the client
	// writer.
	frame := append([]byte{'D', 0, 0, 0, 0}, body...)
	binary.BigEndian.PutUint32(frame[1:], uint32(len(frame)-1))
	src := bytes.Repeat(frame, 400)
	r := bytes.NewReader(src)
	fr := newFrameReader(r, upstreamBufSize, 1<<20)
	w := bufio.NewWriterSize(io.Discard, clientBufSize)
	if a := testing.AllocsPerRun(200, func() {
		if r.Len() == 0 {
			r.Reset(src)
			fr.br.Reset(r)
		}
		if _, err := fr.Next(); err != nil {
			t.Fatal(err)
		}
		if _, err := fr.Forward(w); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Fatalf("forwarding allocates %.1f times per row", a)
	}
}

func BenchmarkRewriteRow(b *testing.B) {
	m, _ := mask.New(mask.Config{Detectors: []string{"all"}, Strategy: "redact"})
	rd := &pgproto3.RowDescription{Fields: []pgproto3.FieldDescription{
		{Name: []byte("id"), DataTypeOID: oidInt4}, {Name: []byte("email"), DataTypeOID: oidText}, {Name: []byte("notes"), DataTypeOID: oidText},
	}}
	plan := newRowPlan(&Masking{Masker: m}, rd, stmtVerdict{{}, {protected: "public.customers.email"}, {}}, nil)
	body := dataRow("42", "ada@example.org", "called about the refund of order 88121 on tuesday, no card details given")
	var dst, scratch []byte
	var counts mask.Counts
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		dst, _ = plan.rewriteRow(dst[:0], body, &scratch, &counts)
	}
}

// BenchmarkRewritePIIRow is one row of the bench's customers table with
// email, phone, card and SSN protected and every detector on the rest.
func BenchmarkRewritePIIRow(b *testing.B) {
	m, _ := mask.New(mask.Config{Detectors: []string{"all"}, Strategy: "redact"})
	rd := &pgproto3.RowDescription{Fields: []pgproto3.FieldDescription{
		{Name: []byte("id"), DataTypeOID: oidInt4}, {Name: []byte("name"), DataTypeOID: oidText}, {Name: []byte("email"), DataTypeOID: oidText},
		{Name: []byte("phone"), DataTypeOID: oidText}, {Name: []byte("card_number"), DataTypeOID: oidText}, {Name: []byte("ssn"), DataTypeOID: oidText},
		{Name: []byte("city"), DataTypeOID: oidText}, {Name: []byte("notes"), DataTypeOID: oidText},
	}}
	v := stmtVerdict{{}, {}, {protected: "public.customers.email"}, {protected: "public.customers.phone"},
		{protected: "public.customers.card_number"}, {protected: "public.customers.ssn"}, {}, {}}
	plan := newRowPlan(&Masking{Masker: m}, rd, v, nil)
	rows := [][]byte{
		dataRow("41", "Customer 41", "customer41@example.org", "+1 555 0041", "4111 1111 1111 1111", "141-51-1041", "Oslo", "regular order, delivered on time, no issues reported by the courier"),
		dataRow("42", "Customer 42", "customer42@example.org", "+1 555 0042", "4111 1111 1111 1111", "142-52-1042", "Quito", "asked to be called back on +1 555 0100 or mailed at backup42@example.net"),
	}
	var dst, scratch []byte
	var counts mask.Counts
	b.SetBytes(int64(len(rows[0])))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		dst, _ = plan.rewriteRow(dst[:0], rows[i&1], &scratch, &counts)
		i++
	}
}
