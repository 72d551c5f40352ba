package client

import (
	"context"
	"errors"
)

// connectWS reads one WebSocket connection.
func (f *follower) connectWS(ctx context.Context) (bool, error) {
	return false, &terminalError{errors.New("client: WebSocket transport not available")}
}
