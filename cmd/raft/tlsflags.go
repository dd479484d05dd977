package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
)

// registerExtraFlags adds the observability and security flags to fs.
func registerExtraFlags(fs *flag.FlagSet, o *options) {
	fs.StringVar(&o.metrics, "metrics", "", "serve Prometheus metrics at /metrics and Go's pprof at /debug/pprof/ on `address` host:port, taken as given (use 127.0.0.1:PORT); off when empty")
	fs.StringVar(&o.apiCert, "api-cert", "", "PEM certificate `file` of the client API; with -api-key the API serves TLS only")
	fs.StringVar(&o.apiKey, "api-key", "", "PEM private key `file` of -api-cert")
	fs.StringVar(&o.apiClientCA, "api-client-ca", "", "PEM CA `file`: API clients must present a certificate it signed (mutual TLS; needs -api-cert)")
	fs.StringVar(&o.peerCert, "peer-cert", "", "PEM certificate `file` this node presents to peers, as server and as client (mutual TLS; with -peer-key and -peer-ca)")
	fs.StringVar(&o.peerKey, "peer-key", "", "PEM private key `file` of -peer-cert")
	fs.StringVar(&o.peerCA, "peer-ca", "", "PEM CA `file` that signed every peer's certificate; peers it did not sign are refused")
}

// checkExtraFlags validates the observability and security flags.
func checkExtraFlags(o options) error {
	if o.metrics != "" {
		if err := checkListenAddress(o.metrics); err != nil {
			return fmt.Errorf("-metrics: %v", err)
		}
		if o.metrics == o.addr || o.metrics == o.api {
			return fmt.Errorf("-metrics %s is also -addr or -api: it needs its own port", o.metrics)
		}
	}
	if (o.apiCert == "") != (o.apiKey == "") {
		return errors.New("-api-cert and -api-key go together")
	}
	if o.apiClientCA != "" && o.apiCert == "" {
		return errors.New("-api-client-ca needs -api-cert and -api-key")
	}
	given := 0
	for _, f := range []string{o.peerCert, o.peerKey, o.peerCA} {
		if f != "" {
			given++
		}
	}
	if given != 0 && given != 3 {
		return errors.New("-peer-cert, -peer-key and -peer-ca go together: mutual TLS between peers needs all three")
	}
	return nil
}

// checkListenAddress accepts host:port with a port 1..65535; an empty host (":9100")
// means every interface.
func checkListenAddress(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("malformed address %q: want host:port", addr)
	}
	if strings.ContainsAny(host, " \t\r\n") {
		return fmt.Errorf("malformed address %q: bad host", addr)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("malformed address %q: port must be 1..65535", addr)
	}
	return nil
}

// apiTLSConfig is the client API's server TLS configuration, nil without -api-cert.
func apiTLSConfig(o options) (*tls.Config, error) {
	if o.apiCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(o.apiCert, o.apiKey)
	if err != nil {
		return nil, fmt.Errorf("-api-cert/-api-key: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if o.apiClientCA != "" {
		pool, err := loadCertPool(o.apiClientCA)
		if err != nil {
			return nil, fmt.Errorf("-api-client-ca: %w", err)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// peerTLSConfigs are the peer endpoint's server and client TLS configurations for mutual
// TLS, both nil without the -peer-* flags. The server requires a client certificate
// signed by -peer-ca; the client verifies the server's certificate against -peer-ca and
// the host of the peer address it dials, and presents the same certificate.
func peerTLSConfigs(o options, logger *slog.Logger) (server, client *tls.Config, err error) {
	if o.peerCert == "" {
		return nil, nil, nil
	}
	cert, err := tls.LoadX509KeyPair(o.peerCert, o.peerKey)
	if err != nil {
		return nil, nil, fmt.Errorf("-peer-cert/-peer-key: %w", err)
	}
	pool, err := loadCertPool(o.peerCA)
	if err != nil {
		return nil, nil, fmt.Errorf("-peer-ca: %w", err)
	}
	if err := signedBy(cert, pool); err != nil {
		// Not fatal (the CA file may be about to be rotated), but peers will refuse it.
		logger.Warn("-peer-cert does not verify against -peer-ca: peers that trust only -peer-ca will refuse this node", "error", err)
	}
	server = &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	}
	client = &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		MinVersion:   tls.VersionTLS12,
	}
	return server, client, nil
}

// loadCertPool reads the PEM certificates of path into a pool; a file without any is an
// error.
func loadCertPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate in it", path)
	}
	return pool, nil
}

// signedBy checks that cert (with the intermediates it carries) chains up to a CA of pool.
// Key usage is not checked here: a peer certificate serves both as server and as client.
func signedBy(cert tls.Certificate, pool *x509.CertPool) error {
	if len(cert.Certificate) == 0 {
		return errors.New("no certificate")
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return err
	}
	intermediates := x509.NewCertPool()
	for _, der := range cert.Certificate[1:] {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return err
		}
		intermediates.AddCert(c)
	}
	_, err = leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: intermediates, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	return err
}
