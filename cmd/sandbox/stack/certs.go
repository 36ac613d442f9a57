package stack

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// clusterPKI is what one environment's control plane needs to serve TLS and sign service
// account tokens, written as files its components read. Each environment has its own CA and
// signing key, as each EKS cluster does, so a token or certificate of one is worthless in another.
type clusterPKI struct {
	CAFile        string // the CA certificate clients trust
	CAPEM         []byte
	ServingCert   string // kube-apiserver's serving certificate, signed by the CA
	ServingKey    string
	SAKey         string // the service account signing key (private, PEM)
	SAPub         string // its public half, which the apiserver verifies tokens with
	AdminToken    string
	TokenAuthFile string // kube-apiserver's --token-auth-file, naming AdminToken
}

// certValidity outlives any sandbox; certificates are generated anew at every start.
const certValidity = 365 * 24 * time.Hour

// apiserverSANs are the names clients reach a kube-apiserver by: the loopback address the
// sandbox serves on, and the in-cluster names and service IP (first of 10.96.0.0/12) that
// in-cluster clients would use.
var apiserverSANs = struct {
	DNS []string
	IPs []net.IP
}{
	DNS: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
	IPs: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv4(10, 96, 0, 1)},
}

// newClusterPKI generates a CA, a serving certificate for kube-apiserver, a service account
// key pair and an admin token for the cluster called name, and writes them under dir. ECDSA
// P-256 keeps generation instant (RSA 2048 takes a noticeable fraction of a second per key).
func newClusterPKI(dir, name string) (*clusterPKI, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	now := time.Now()
	caKey, ca, caDER, err := newCA(name, now)
	if err != nil {
		return nil, err
	}
	servingKey, servingDER, err := newServingCert(ca, caKey, now)
	if err != nil {
		return nil, err
	}
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating service account key: %w", err)
	}
	token := make([]byte, 32)
	if _, err := rand.Read(token); err != nil {
		return nil, err
	}

	p := &clusterPKI{
		CAFile:        filepath.Join(dir, "ca.crt"),
		CAPEM:         pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		ServingCert:   filepath.Join(dir, "apiserver.crt"),
		ServingKey:    filepath.Join(dir, "apiserver.key"),
		SAKey:         filepath.Join(dir, "sa.key"),
		SAPub:         filepath.Join(dir, "sa.pub"),
		AdminToken:    hex.EncodeToString(token),
		TokenAuthFile: filepath.Join(dir, "tokens.csv"),
	}
	if err := p.write(servingDER, servingKey, saKey); err != nil {
		return nil, err
	}
	return p, nil
}

// newCA returns the key, the parsed certificate and the DER of a new self-signed CA for the
// cluster called name.
func newCA(name string, now time.Time) (*ecdsa.PrivateKey, *x509.Certificate, []byte, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("generating CA key: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name + "-ca", Organization: []string{"idp sandbox"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(certValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("creating CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, nil, nil, err
	}
	return caKey, ca, caDER, nil
}

// newServingCert returns the key and the DER of a kube-apiserver serving certificate for
// apiserverSANs, signed by the CA.
func newServingCert(ca *x509.Certificate, caKey *ecdsa.PrivateKey, now time.Time) (*ecdsa.PrivateKey, []byte, error) {
	servingKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generating serving key: %w", err)
	}
	servingDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(certValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     apiserverSANs.DNS,
		IPAddresses:  apiserverSANs.IPs,
	}, ca, &servingKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("creating serving certificate: %w", err)
	}
	return servingKey, servingDER, nil
}

// write writes p's files: the CA certificate, the serving chain and key, the service account
// key pair and the token file.
func (p *clusterPKI) write(servingDER []byte, servingKey, saKey *ecdsa.PrivateKey) error {
	servingKeyPEM, err := ecKeyPEM(servingKey)
	if err != nil {
		return err
	}
	saKeyPEM, err := ecKeyPEM(saKey)
	if err != nil {
		return err
	}
	saPubDER, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return err
	}
	files := []struct {
		path string
		data []byte
	}{
		{p.CAFile, p.CAPEM},
		// The chain a client sees: the leaf, then the CA.
		{p.ServingCert, append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: servingDER}), p.CAPEM...)},
		{p.ServingKey, servingKeyPEM},
		{p.SAKey, saKeyPEM},
		{p.SAPub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: saPubDER})},
		// token,user,uid,"groups": system:masters is cluster-admin, as the EKS cluster creator is.
		{p.TokenAuthFile, []byte(fmt.Sprintf("%s,admin,admin,\"system:masters\"\n", p.AdminToken))},
	}
	for _, f := range files {
		if err := os.WriteFile(f.path, f.data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func ecKeyPEM(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("encoding key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		// crypto/rand does not fail on Linux; a fixed serial would still be a valid certificate.
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}
