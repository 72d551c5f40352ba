package httpapi

import (
	"net/http"

	"github.com/taskboard/taskboard"
)

// exportBoard is GET /boards/{boardId}/export.
func (h *Handler) exportBoard(w http.ResponseWriter, r *http.Request, id *Identity) {
	doc, err := h.store.Export(r.Context(), id.actor(), r.PathValue("boardId"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, doc)
}

// importBoard is POST /boards/import: a board export or a Trello board
// export, of at most MaxImportBytes, becomes a new board of the caller's.
func (h *Handler) importBoard(w http.ResponseWriter, r *http.Request, id *Identity) {
	body, err := readBody(w, r, h.opts.MaxImportBytes)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	doc, err := taskboard.ParseImport(body)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	respond := jsonResponse[*taskboard.Snapshot](http.StatusCreated)
	snap, err := h.store.Import(writeWith(r, respond), id.actor(), doc)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	respond(w, snap)
}
