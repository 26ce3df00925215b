package patrons

import "github.com/stacks-ils/stacks/api/httpx"

// Routes declares the patrons module's endpoints.
func (s *Service) Routes() []httpx.Route { return nil }
