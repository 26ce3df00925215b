package catalog

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/stacks-ils/stacks/api/catalog/demodata"
	"github.com/stacks-ils/stacks/api/catalog/marc"
	"github.com/stacks-ils/stacks/tenants/tenanttest"
)

// importCorpus makes n distinct records from the real demo records: each
// copy gets its own title and ISBN, and one 952 item at the main branch.
func importCorpus(b testing.TB, n int) []byte {
	src := readRecords(b, demodata.MARC)
	var buf bytes.Buffer
	w := marc.NewWriter(&buf)
	for i := 0; i < n; i++ {
		s := src[i%len(src)]
		rec := &marc.Record{Leader: s.Leader}
		for _, f := range s.Fields {
			switch f.Tag {
			case "001", "010", "020", "035", "852":
				continue
			case "245":
				f.Subfields = append([]marc.Subfield{{Code: 'a', Value: fmt.Sprintf("Copy %d of", i)}}, f.Subfields...)
			}
			rec.Fields = append(rec.Fields, f)
		}
		isbn := fmt.Sprintf("978%09d", i)
		sum := 0
		for j, c := range isbn {
			d := int(c - '0')
			if j%2 == 1 {
				d *= 3
			}
			sum += d
		}
		rec.Fields = append(rec.Fields,
			marc.Field{Tag: "020", Ind1: ' ', Ind2: ' ', Subfields: []marc.Subfield{{Code: 'a', Value: isbn + fmt.Sprint((10-sum%10)%10)}}},
			marc.Field{Tag: "952", Ind1: ' ', Ind2: ' ', Subfields: []marc.Subfield{{Code: 'a', Value: "MAIN"}, {Code: 'p', Value: fmt.Sprintf("B%08d", i)}, {Code: 'g', Value: "19.99"}}})
		if err := w.Write(rec); err != nil {
			b.Fatal(err)
		}
	}
	return buf.Bytes()
}

// BenchmarkImport measures end-to-end import (parse, match, insert, index,
// items from 952) of 5,000 new records into an empty catalogue.
func BenchmarkImport(b *testing.B) {
	const n = 5000
	env := tenanttest.Get(b)
	file := importCorpus(b, n)
	s := NewService(env.Tenants)
	b.SetBytes(int64(len(file)))
	b.ResetTimer()
	total := 0
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		tenant, ctx := genTenant(b, env, 1)
		b.StartTimer()
		job, err := s.StartLocalImport(ctx, tenant, ImportOptions{Match: DupSkip, ItemsFrom: "952"})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.ImportStream(context.Background(), tenant, job, bytes.NewReader(file), nil); err != nil {
			b.Fatal(err)
		}
		if job.Created != n {
			b.Fatalf("created %d of %d (%s)", job.Created, n, job.Errors)
		}
		total += job.Created
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "records/s")
}

// readRecords reads every record of an ISO 2709 file (strictly).
func readRecords(tb testing.TB, data []byte) []*marc.Record {
	tb.Helper()
	var recs []*marc.Record
	rd := marc.NewReader(bytes.NewReader(data), marc.ReadOptions{})
	for {
		rec, err := rd.Read()
		if err == io.EOF {
			return recs
		}
		if err != nil {
			tb.Fatal(err)
		}
		recs = append(recs, rec)
	}
}
