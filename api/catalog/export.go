package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/stacks-ils/stacks/api/catalog/marc"
)

// exportBatch is how many records one export transaction reads.
const exportBatch = 500

// Export writes every bib of the tenant as ISO 2709 ("iso2709") or MARCXML
// ("marcxml") to w, in id order, one short transaction per batch. With
// items, each record carries an 852 per item ($b branch code, $h call
// number, $p barcode, $x status).
func (s *Service) Export(ctx context.Context, tenantID uuid.UUID, format string, items bool, w io.Writer) error {
	var write func(*marc.Record) error
	closeFn := func() error { return nil }
	if format == "marcxml" || format == "xml" {
		xw := marc.NewXMLWriter(w)
		write, closeFn = xw.Write, xw.Close
	} else {
		write = marc.NewWriter(w).Write
	}
	var after uuid.UUID
	for {
		var rows []struct {
			ID   uuid.UUID
			Marc []byte
		}
		holdings := map[uuid.UUID][]marc.Field{}
		err := s.pool.Tx(ctx, tenantID, func(ctx context.Context, tx *gorm.DB) error {
			if err := tx.Raw(`SELECT id, marc FROM bibs WHERE id > ? ORDER BY id LIMIT ?`, after, exportBatch).Scan(&rows).Error; err != nil {
				return err
			}
			if !items || len(rows) == 0 {
				return nil
			}
			ids := make([]uuid.UUID, len(rows))
			for i, r := range rows {
				ids[i] = r.ID
			}
			var its []struct {
				BibID                             uuid.UUID
				Code, CallNumber, Barcode, Status string
			}
			if err := tx.Raw(`SELECT i.bib_id, b.code, i.call_number, i.barcode, i.status FROM items i
				JOIN branches b ON b.id = i.branch_id WHERE i.bib_id IN ? ORDER BY i.bib_id, i.id`, ids).Scan(&its).Error; err != nil {
				return err
			}
			for _, it := range its {
				f := marc.Field{Tag: "852", Ind1: ' ', Ind2: ' ', Subfields: []marc.Subfield{{Code: 'b', Value: it.Code}}}
				if it.CallNumber != "" {
					f.Subfields = append(f.Subfields, marc.Subfield{Code: 'h', Value: it.CallNumber})
				}
				f.Subfields = append(f.Subfields, marc.Subfield{Code: 'p', Value: it.Barcode}, marc.Subfield{Code: 'x', Value: it.Status})
				holdings[it.BibID] = append(holdings[it.BibID], f)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("export batch after %s: %w", after, err)
		}
		for _, r := range rows {
			var rec marc.Record
			if err := json.Unmarshal(r.Marc, &rec); err != nil {
				return fmt.Errorf("export %s: %w", r.ID, err)
			}
			rec.Fields = append(rec.Fields, holdings[r.ID]...)
			if err := write(&rec); err != nil {
				return fmt.Errorf("export %s: %w", r.ID, err)
			}
		}
		if len(rows) < exportBatch {
			return closeFn()
		}
		after = rows[len(rows)-1].ID
	}
}
