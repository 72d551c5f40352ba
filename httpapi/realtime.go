package httpapi

// realtimeRoutes registers the real-time routes.
func (h *Handler) realtimeRoutes() {}

// credentialRevoked ends the streams opened with a token or session.
func (h *Handler) credentialRevoked(credentialID string) {}
