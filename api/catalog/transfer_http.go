package catalog

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"mime"
	"mime/multipart"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/stacks-ils/stacks/api/errs"
	"github.com/stacks-ils/stacks/api/httpx"
	"github.com/stacks-ils/stacks/tenants"
)

// DefaultMaxImportBytes is the default upload limit of a MARC import.
const DefaultMaxImportBytes = 2 << 30

func (s *Service) transferRoutes() []httpx.Route {
	read, write := string(tenants.PermCatalogRead), string(tenants.PermCatalogWrite)
	return []httpx.Route{
		{Method: "POST", Path: "/api/v1/imports/marc", Perm: write, Summary: "Import a MARC file (runs as a background job)", Handler: s.handleImport, StreamBody: true},
		{Method: "GET", Path: "/api/v1/jobs/:id", Perm: read, Summary: "Get a background job's progress", Handler: s.handleGetJob},
		{Method: "GET", Path: "/api/v1/exports/marc", Perm: read, Summary: "Export the whole catalogue as MARC (streamed)", Handler: s.handleExport},
	}
}

// importOptions reads the options from the query string and form fields.
func importOptions(get func(string) string) (ImportOptions, error) {
	opt := ImportOptions{Match: DuplicatePolicy(get("match")), ItemsFrom: get("items_from"), Currency: strings.ToUpper(get("currency")),
		Lenient: get("lenient") == "true"}
	if b := get("branch_id"); b != "" {
		id, err := uuid.Parse(b)
		if err != nil {
			return opt, errs.Field("branch_id", "invalid_branch", "branch_id must be a branch id")
		}
		opt.DefaultBranch = id
	}
	return opt, nil
}

// handleImport takes a multipart upload (field "file"; options as form
// fields before the file or as query parameters) or a raw MARC body, and
// answers 202 with the job to watch.
func (s *Service) handleImport(c *fiber.Ctx) error {
	var body io.Reader = c.Context().RequestBodyStream()
	if body == nil {
		body = bytes.NewReader(c.Body())
	}
	fields := map[string]string{}
	get := func(k string) string {
		if v := c.Query(k); v != "" {
			return v
		}
		return fields[k]
	}
	mt, params, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if err != nil {
		return errs.E(errs.UnsupportedMedia, "unsupported_media_type", "send multipart/form-data with a \"file\" field, or the MARC file itself")
	}
	var src io.Reader
	switch mt {
	case "multipart/form-data":
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				return errs.Field("file", "required", `the upload has no "file" field`)
			}
			if err != nil {
				return errs.E(errs.BadRequest, "bad_multipart", "the multipart body cannot be read: "+err.Error())
			}
			if part.FormName() == "file" {
				src = part
				fields["filename"] = part.FileName()
				break
			}
			v, _ := io.ReadAll(io.LimitReader(part, 1024))
			fields[part.FormName()] = strings.TrimSpace(string(v))
		}
	case MIMEMARC, MIMEMARCXML, MIMEMARCJSON, "application/xml", "text/xml", "application/octet-stream":
		src = body
	default:
		return errs.E(errs.UnsupportedMedia, "unsupported_media_type", "send multipart/form-data with a \"file\" field, or the MARC file itself")
	}
	opt, err := importOptions(get)
	if err != nil {
		return err
	}
	opt.Filename = fields["filename"]
	job, err := s.CreateImportJob(c.UserContext(), opt, src, s.maxImportBytes())
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"job_id": job.ID, "job": job})
}

func (s *Service) maxImportBytes() int64 {
	if s.MaxImportBytes > 0 {
		return s.MaxImportBytes
	}
	return DefaultMaxImportBytes
}

func (s *Service) handleGetJob(c *fiber.Ctx) error {
	id, err := httpx.ParamUUID(c, "id", "job")
	if err != nil {
		return err
	}
	j, err := s.GetJob(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(j)
}

// handleExport streams the catalogue. The body is written after the
// request's transaction has ended, so Export opens its own short tenant
// transactions, one per batch: memory stays constant however large the
// catalogue.
func (s *Service) handleExport(c *fiber.Ctx) error {
	format := c.Query("format", "iso2709")
	items := c.Query("items")
	if items != "" && items != "852" {
		return httpx.BadQuery("items", `items must be "852" (or absent)`)
	}
	var ct, ext string
	switch format {
	case "iso2709", "marc":
		ct, ext = MIMEMARC, "mrc"
	case "marcxml", "xml":
		ct, ext = MIMEMARCXML, "xml"
	default:
		return httpx.BadQuery("format", `format must be "iso2709" or "marcxml"`)
	}
	tenant, err := tenants.CurrentTenant(c.UserContext())
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, ct)
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="catalogue.`+ext+`"`)
	log := s.log
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		if err := s.Export(context.Background(), tenant, format, items == "852", w); err != nil {
			log.Error("export failed mid-stream", "tenant_id", tenant, "error", err)
		}
	})
	return nil
}
