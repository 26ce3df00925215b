package catalog

import (
	"bytes"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/catalog/marc"
	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/api/httpx"
	"github.com/stacks-ils/stacks/tenants"
)

// Media types for MARC bodies and responses.
const (
	MIMEMARC     = "application/marc"
	MIMEMARCXML  = "application/marcxml+xml"
	MIMEMARCJSON = "application/marc+json"
)

// Routes declares the catalog's endpoints.
func (s *Service) Routes() []httpx.Route {
	read, write := string(tenants.PermCatalogRead), string(tenants.PermCatalogWrite)
	routes := []httpx.Route{
		{Method: "GET", Path: "/api/v1/bibs", Perm: read, Summary: "List bibliographic records", Handler: s.handleListBibs},
		{Method: "POST", Path: "/api/v1/bibs", Perm: write, Summary: "Create a bibliographic record (JSON form or MARC)", Handler: s.handleCreateBib},
		{Method: "GET", Path: "/api/v1/bibs/:id", Perm: read, Summary: "Get a bibliographic record (JSON, MARCXML or ISO 2709 by Accept)", Handler: s.handleGetBib},
		{Method: "PUT", Path: "/api/v1/bibs/:id", Perm: write, Summary: "Replace a bibliographic record (JSON form or MARC)", Handler: s.handleReplaceBib},
		{Method: "DELETE", Path: "/api/v1/bibs/:id", Perm: write, Summary: "Delete a bibliographic record without items", Handler: s.handleDeleteBib},
		{Method: "POST", Path: "/api/v1/bibs/:id/items", Perm: write, Summary: "Add several items to a record", Handler: s.handleBulkItems},
		{Method: "GET", Path: "/api/v1/items", Perm: read, Summary: "List items (by barcode, bib, branch, status)", Handler: s.handleListItems},
		{Method: "POST", Path: "/api/v1/items", Perm: write, Summary: "Add an item", Handler: s.handleCreateItem},
		{Method: "GET", Path: "/api/v1/items/:id", Perm: read, Summary: "Get an item", Handler: s.handleGetItem},
		{Method: "PATCH", Path: "/api/v1/items/:id", Perm: write, Summary: "Change an item (status withdrawn withdraws it)", Handler: s.handleUpdateItem},
		{Method: "GET", Path: "/api/v1/search", Perm: read, Summary: "Search the catalogue with facets", Handler: s.handleSearch},
	}
	routes = append(routes, s.browseRoutes()...)
	return append(routes, s.transferRoutes()...)
}

func mediaType(ct string) string {
	return strings.ToLower(strings.TrimSpace(strings.SplitN(ct, ";", 2)[0]))
}

// recordFromBody reads a MARC record or the JSON form, by Content-Type.
func (s *Service) recordFromBody(c *fiber.Ctx) (*marc.Record, error) {
	body := c.Body()
	var rec *marc.Record
	var err error
	switch mt := mediaType(c.Get(fiber.HeaderContentType)); mt {
	case MIMEMARC, "application/marc21":
		rec, err = marc.Unmarshal(body)
	case MIMEMARCXML, "application/xml", "text/xml":
		rec, err = marc.NewXMLReader(bytes.NewReader(body), marc.ReadOptions{}).Read()
	case MIMEMARCJSON:
		rec, err = marc.DecodeJSON(body)
	case "", fiber.MIMEApplicationJSON:
		var form BibForm
		if err := httpx.DecodeJSON(body, &form); err != nil {
			return nil, err
		}
		return form.Build(s.now())
	default:
		return nil, errs.E(errs.UnsupportedMedia, "unsupported_media_type",
			"send application/json (the simple form), application/marc, application/marcxml+xml or application/marc+json")
	}
	if err != nil {
		return nil, errs.E(errs.Invalid, "invalid_marc", "the MARC record cannot be read: "+err.Error())
	}
	if rec.First("245") == nil {
		return nil, errs.E(errs.Invalid, "invalid_marc", "the MARC record has no 245 (title) field")
	}
	return rec, nil
}

func (s *Service) handleCreateBib(c *fiber.Ctx) error {
	policy, err := ParseDuplicatePolicy(c.Query("duplicates"), DupRefuse)
	if err != nil {
		return err
	}
	rec, err := s.recordFromBody(c)
	if err != nil {
		return err
	}
	res, err := s.SaveRecord(c.UserContext(), rec, policy)
	if err != nil {
		return err
	}
	if res.Action == "skipped" {
		return c.Status(fiber.StatusOK).JSON(res.Bib)
	}
	return c.Status(fiber.StatusCreated).JSON(res.Bib)
}

func (s *Service) handleReplaceBib(c *fiber.Ctx) error {
	id, err := httpx.ParamUUID(c, "id", "bibliographic record")
	if err != nil {
		return err
	}
	if _, err := s.GetBib(c.UserContext(), id, false); err != nil {
		return err
	}
	rec, err := s.recordFromBody(c)
	if err != nil {
		return err
	}
	b, err := s.UpdateRecord(c.UserContext(), id, rec)
	if err != nil {
		return err
	}
	return c.JSON(b)
}

func (s *Service) handleGetBib(c *fiber.Ctx) error {
	id, err := httpx.ParamUUID(c, "id", "bibliographic record")
	if err != nil {
		return err
	}
	accept := c.Accepts(fiber.MIMEApplicationJSON, MIMEMARCXML, MIMEMARC, MIMEMARCJSON, "application/xml")
	b, err := s.GetBib(c.UserContext(), id, true)
	if err != nil {
		return err
	}
	if b.Format == FormatSerial {
		if err := s.fillHoldings(c.UserContext(), []uuid.UUID{b.ID}, func(_ uuid.UUID, h []string) { b.Holdings = h }); err != nil {
			return err
		}
	}
	var out []byte
	switch accept {
	case MIMEMARCXML, "application/xml":
		out, err = marc.MarshalXML(b.Marc)
		accept = MIMEMARCXML
	case MIMEMARC:
		out, err = marc.Marshal(b.Marc)
	case MIMEMARCJSON:
		out, err = marc.EncodeJSON(b.Marc)
	default:
		return c.JSON(b)
	}
	if err != nil {
		return errs.E(errs.Conflict, "unencodable", "this record cannot be written in that format: "+err.Error())
	}
	c.Set(fiber.HeaderContentType, accept)
	return c.Send(out)
}

func (s *Service) handleDeleteBib(c *fiber.Ctx) error {
	id, err := httpx.ParamUUID(c, "id", "bibliographic record")
	if err != nil {
		return err
	}
	if err := s.DeleteBib(c.UserContext(), id); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Service) handleListBibs(c *fiber.Ctx) error {
	page, err := httpx.ParsePage(c)
	if err != nil {
		return err
	}
	rows, err := s.ListBibs(c.UserContext(), page.After, page.Limit)
	if err != nil {
		return err
	}
	return c.JSON(httpx.NewList(rows, page, func(b Bib) uuid.UUID { return b.ID }))
}

func (s *Service) handleCreateItem(c *fiber.Ctx) error {
	var in ItemInput
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	if in.BibID == nil {
		return errs.Field("bib_id", "required", "bib_id is required")
	}
	items, err := s.CreateItems(c.UserContext(), *in.BibID, []ItemInput{in})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(items[0])
}

func (s *Service) handleBulkItems(c *fiber.Ctx) error {
	id, err := httpx.ParamUUID(c, "id", "bibliographic record")
	if err != nil {
		return err
	}
	var in struct {
		Items []ItemInput `json:"items"`
	}
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	if _, err := s.GetBib(c.UserContext(), id, false); err != nil {
		return err
	}
	items, err := s.CreateItems(c.UserContext(), id, in.Items)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"items": items})
}

func (s *Service) handleGetItem(c *fiber.Ctx) error {
	id, err := httpx.ParamUUID(c, "id", "item")
	if err != nil {
		return err
	}
	it, err := s.GetItem(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(it)
}

func (s *Service) handleUpdateItem(c *fiber.Ctx) error {
	id, err := httpx.ParamUUID(c, "id", "item")
	if err != nil {
		return err
	}
	var in ItemInput
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	it, err := s.UpdateItem(c.UserContext(), id, in)
	if err != nil {
		return err
	}
	return c.JSON(it)
}

func (s *Service) handleListItems(c *fiber.Ctx) error {
	page, err := httpx.ParsePage(c)
	if err != nil {
		return err
	}
	f := ItemFilter{Barcode: strings.TrimSpace(c.Query("barcode")), Status: c.Query("status"), After: page.After, Limit: page.Limit}
	if f.BibID, err = httpx.QueryUUID(c, "bib_id"); err != nil {
		return err
	}
	if f.BranchID, err = httpx.QueryUUID(c, "branch_id"); err != nil {
		return err
	}
	rows, err := s.ListItems(c.UserContext(), f)
	if err != nil {
		return err
	}
	return c.JSON(httpx.NewList(rows, page, func(i Item) uuid.UUID { return i.ID }))
}

func (s *Service) handleSearch(c *fiber.Ctx) error {
	limit, err := httpx.ParseLimit(c, 20)
	if err != nil {
		return err
	}
	req := SearchRequest{Q: c.Query("q"), Sort: c.Query("sort"), Limit: limit, Cursor: c.Query("cursor")}
	if f := c.Query("facets"); f != "" {
		req.Facets = strings.Split(f, ",")
	}
	for _, v := range c.Context().QueryArgs().PeekMulti("filter") {
		req.Filters = append(req.Filters, string(v))
	}
	res, err := s.Search(c.UserContext(), req)
	if err != nil {
		return err
	}
	return c.JSON(res)
}
