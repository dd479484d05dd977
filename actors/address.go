package actors

import (
	"fmt"
	"net"
	"strconv"
)

// validateAddress accepts "host:port" with a non-empty host and a port in 1..65535.
func validateAddress(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("malformed address %q: %v", addr, err)
	}
	if host == "" {
		return fmt.Errorf("malformed address %q: empty host", addr)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("malformed address %q: port must be 1..65535", addr)
	}
	return nil
}
