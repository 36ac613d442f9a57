package cli

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"

	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/signature"
)

// signFlags say how a request (bootstrap, promote) is signed.
type signFlags struct {
	// key is the private key file that signs the request (--key).
	key string
	// noSign sends the request unsigned (--no-sign), as CI does.
	noSign bool
}

func (f *signFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.key, "key", "", "SSH private key that signs the request (default $IDP_SIGNING_KEY, else $IDP_KEYS_DIR/<name>, else ssh-agent)")
	cmd.Flags().BoolVar(&f.noSign, "no-sign", false, "send the request unsigned (CI); it is recorded as unsigned")
}

func (f signFlags) validate() error {
	if f.key != "" && f.noSign {
		return errors.New("--key and --no-sign contradict each other: sign with the key, or send the request unsigned")
	}
	return nil
}

// requester is who asks for a run. Nobody is refused: four-eyes must know whom to compare
// approvers with.
func (g *globals) requester() (string, error) {
	who := strings.TrimSpace(g.identity())
	if who == "" {
		return "", badInput(errors.New("who is asking? pass --as USER or set IDP_USER (four-eyes compares approvers with the requester)"))
	}
	return who, nil
}

// signRequest signs the request's statement as who and returns the signature and st's
// signing time. With no key at hand (CI), or --no-sign, the request goes unsigned: it returns
// "" and a zero time and says so on stderr in one line. A key named explicitly (--key,
// $IDP_SIGNING_KEY, $IDP_KEYS_DIR/<name>) that is not listed for who in idp.yaml is bad input,
// since the run would refuse the request; ssh-agent is only used with a key listed for who.
func (g *globals) signRequest(f signFlags, cfg *config.Config, who string, st signature.Statement) (string, time.Time, error) {
	if f.noSign {
		g.unsigned(who, "--no-sign")
		return "", time.Time{}, nil
	}
	wanted := cfg.Keys(who)
	path, explicit := keySource(f.key, who)
	var signer ssh.Signer
	if explicit {
		s, err := loadSigner(path, nil)
		if err != nil {
			return "", time.Time{}, badInput(fmt.Errorf("signing the request: %w (or pass --no-sign)", err))
		}
		if !listed(s, wanted) {
			return "", time.Time{}, badInput(fmt.Errorf("the key in %s (%s) is not listed for %s in idp.yaml (people.%s.keys), so the run would refuse the request: use your own key and your own name, or pass --no-sign",
				path, signature.Fingerprint(s.PublicKey()), who, normalizeName(who)))
		}
		signer = s
	} else {
		s, why := agentSignerFor(who, wanted)
		if s == nil {
			g.unsigned(who, why)
			return "", time.Time{}, nil
		}
		signer = s
	}
	sig, err := signature.Sign(st, signer)
	if err != nil {
		return "", time.Time{}, err
	}
	return sig, st.SignedAt, nil
}

// agentSignerFor is the ssh-agent key listed for who, or nil and why there is none.
func agentSignerFor(who string, wanted []string) (ssh.Signer, string) {
	if len(wanted) == 0 {
		return nil, fmt.Sprintf("no key for %s in idp.yaml, and no --key, IDP_SIGNING_KEY or IDP_KEYS_DIR/%s", who, normalizeName(who))
	}
	signers, err := agentSigners()
	if err != nil {
		return nil, err.Error()
	}
	for _, s := range signers {
		if listed(s, wanted) {
			return s, ""
		}
	}
	return nil, fmt.Sprintf("ssh-agent holds none of the keys idp.yaml lists for %s", who)
}

// unsigned tells, in one line on stderr once the request is taken, that it went unsigned
// and why.
func (g *globals) unsigned(who, why string) {
	g.notes = append(g.notes, fmt.Sprintf("note: the request by %s is not signed (%s); the run records it as unsigned", who, why))
}

// flushNote prints the held notes, once.
func (g *globals) flushNote() {
	for _, n := range g.notes {
		fmt.Fprintln(g.errOut, n)
	}
	g.notes = nil
}

// signingTime is when a request is signed, to the second as statements encode it.
func (g *globals) signingTime() time.Time { return g.now().UTC().Truncate(time.Second) }
