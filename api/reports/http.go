package reports

import (
	"bufio"
	"context"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/stacks-ils/stacks/api/httpx"
	"github.com/stacks-ils/stacks/tenants"
)

// Routes declares the reports module's endpoints.
func (s *Service) Routes() []httpx.Route {
	read := string(tenants.PermReportsRead)
	return append([]httpx.Route{
		{Method: "GET", Path: "/api/v1/reports", Perm: read, Summary: "List the built-in reports with their parameters and columns", Handler: s.handleList},
		{Method: "GET", Path: "/api/v1/reports/:name", Perm: read, Summary: "Run a report: JSON, CSV (Accept: text/csv or format=csv, streamed) or an SVG chart (format=svg)", Handler: s.handleRun},
		{Method: "GET", Path: "/api/v1/report-files/:token", Public: true, Summary: "Download a mailed report file by its signed, expiring link", Handler: s.handleLink},
	}, s.scheduleRoutes()...)
}

func (s *Service) handleList(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"items": Reports()})
}

// queryParams copies the query string (Fiber reuses its memory).
func queryParams(c *fiber.Ctx) map[string]string {
	raw := map[string]string{}
	for k, v := range c.Queries() {
		raw[strings.Clone(k)] = strings.Clone(v)
	}
	return raw
}

// outputFormat is json, csv or svg: format= wins over the Accept header.
func outputFormat(c *fiber.Ctx, raw map[string]string) (string, error) {
	switch f := raw["format"]; f {
	case "json", "csv", "svg", "pdf":
		return f, nil
	case "":
	default:
		return "", badParam("format", `format must be "json", "csv", "svg" or "pdf"`)
	}
	accept := c.Get(fiber.HeaderAccept)
	switch {
	case strings.Contains(accept, "text/csv"):
		return "csv", nil
	case strings.Contains(accept, "application/pdf"):
		return "pdf", nil
	case strings.Contains(accept, "image/svg+xml") && !strings.Contains(accept, "application/json"):
		return "svg", nil
	}
	return "json", nil
}

func (s *Service) handleRun(c *fiber.Ctx) error {
	ctx := c.UserContext()
	raw := queryParams(c)
	format, err := outputFormat(c, raw)
	if err != nil {
		return err
	}
	bom := raw["bom"] == "1" || raw["bom"] == "true"
	pr, err := s.prepare(ctx, strings.Clone(c.Params("name")), raw)
	if err != nil {
		return err
	}
	switch format {
	case "csv":
		tenant, err := tenants.CurrentTenant(ctx)
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
		c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+pr.filename("csv")+`"`)
		log := s.log
		// The body is written after the handler returns and the request's
		// transaction has committed: rows stream from a transaction of their
		// own, one at a time, so memory stays flat however long the report.
		c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
			if err := s.streamCSV(context.Background(), tenant, pr, bom, w); err != nil {
				log.Error("report CSV failed mid-stream", "tenant_id", tenant, "report", pr.report.Name, "error", err)
			}
		})
		return nil
	case "svg":
		res, err := s.collect(ctx, pr)
		if err != nil {
			return err
		}
		svg, err := Chart(pr.report, res)
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, "image/svg+xml")
		return c.Send(svg)
	case "pdf":
		res, err := s.collect(ctx, pr)
		if err != nil {
			return err
		}
		doc, err := PDF(pr.report, res)
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, "application/pdf")
		c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+pr.filename("pdf")+`"`)
		return c.Send(doc)
	}
	res, err := s.collect(ctx, pr)
	if err != nil {
		return err
	}
	return c.JSON(res)
}

// filename is the download name: report_from_to.ext.
func (pr *prepared) filename(ext string) string {
	name := pr.report.Name
	if pr.params.hasRange {
		name += "_" + date(pr.params.From) + "_" + date(pr.params.To)
	}
	return name + "." + ext
}
