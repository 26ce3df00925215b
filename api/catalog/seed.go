package catalog

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/catalog/demodata"
	"github.com/stacks-ils/stacks/api/catalog/marc"
)

// SeedDemo loads the embedded demo catalogue into a tenant whose catalogue
// is empty, through the import path, with one to three items per record
// spread over the given branch codes. It returns how many records it added.
func (s *Service) SeedDemo(ctx context.Context, tenantID uuid.UUID, branchCodes []string) (int, error) {
	var n int64
	err := s.pool.Tx(ctx, tenantID, func(ctx context.Context, tx *gorm.DB) error {
		return tx.Raw(`SELECT count(*) FROM bibs`).Scan(&n).Error
	})
	if err != nil || n > 0 || len(branchCodes) == 0 {
		return 0, err
	}
	// Give each record 852 holdings, then import it like any file.
	var buf bytes.Buffer
	w := marc.NewWriter(&buf)
	rd := marc.NewReader(bytes.NewReader(demodata.MARC), marc.ReadOptions{})
	barcode := 0
	for i := 0; ; i++ {
		rec, err := rd.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("demo catalogue: %w", err)
		}
		cn := Extract(rec).CallNumber
		rec.Fields = slices.DeleteFunc(rec.Fields, func(f marc.Field) bool { return f.Tag == "852" })
		for c := 0; c < 1+i%3; c++ {
			barcode++
			f := marc.Field{Tag: "852", Ind1: ' ', Ind2: ' ', Subfields: []marc.Subfield{
				{Code: 'b', Value: branchCodes[(i+c)%len(branchCodes)]}, {Code: 'p', Value: fmt.Sprintf("3900000%05d", barcode)}}}
			if cn != "" {
				f.Subfields = append(f.Subfields, marc.Subfield{Code: 'h', Value: cn})
			}
			rec.Fields = append(rec.Fields, f)
		}
		if err := w.Write(rec); err != nil {
			return 0, fmt.Errorf("demo catalogue: %w", err)
		}
	}
	job, err := s.StartLocalImport(ctx, tenantID, ImportOptions{Match: DupAdd, ItemsFrom: "852", Filename: "demo catalogue"})
	if err != nil {
		return 0, err
	}
	if err := s.ImportStream(ctx, tenantID, job, &buf, nil); err != nil {
		return 0, err
	}
	return job.Created, nil
}
