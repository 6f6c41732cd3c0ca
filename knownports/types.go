package knownports

import (
	"fmt"
	"strconv"
	"strings"
)

// PortRange is an inclusive range of ports; a single port has Low == High.
// As text it is "3372" or "6000-6063".
type PortRange struct{ Low, High uint16 }

// Contains reports whether port is in r.
func (r PortRange) Contains(port uint16) bool { return r.Low <= port && port <= r.High }

// String returns "3372" for a single port and "6000-6063" for a range.
func (r PortRange) String() string {
	if r.Low == r.High {
		return strconv.Itoa(int(r.Low))
	}
	return strconv.Itoa(int(r.Low)) + "-" + strconv.Itoa(int(r.High))
}

// MarshalText implements [encoding.TextMarshaler].
func (r PortRange) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText implements [encoding.TextUnmarshaler]: it accepts "N" or
// "N-M" with 0 <= N <= M <= 65535.
func (r *PortRange) UnmarshalText(b []byte) error {
	pr, err := parsePortRange(string(b))
	if err != nil {
		return err
	}
	*r = pr
	return nil
}

func parsePortRange(s string) (PortRange, error) {
	lo, hi, isRange := strings.Cut(s, "-")
	low, err := parsePort(lo)
	if err != nil {
		return PortRange{}, err
	}
	if !isRange {
		return PortRange{low, low}, nil
	}
	high, err := parsePort(hi)
	if err != nil {
		return PortRange{}, err
	}
	if high < low {
		return PortRange{}, fmt.Errorf("%q is not a port range: it ends before it starts", s)
	}
	return PortRange{low, high}, nil
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("%q is not a port: want a number from 0 to 65535", s)
	}
	return uint16(n), nil
}

// Risk is how much a listener on a port exposes a machine, from RiskInfo to
// RiskCritical. Its text form is the lower-case level name.
type Risk uint8

// Risk levels, in increasing order.
const (
	RiskInfo Risk = iota
	RiskLow
	RiskMedium
	RiskHigh
	RiskCritical
)

// String returns the level's name: "info", "low", "medium", "high" or
// "critical".
func (r Risk) String() string {
	switch r {
	case RiskInfo:
		return "info"
	case RiskLow:
		return "low"
	case RiskMedium:
		return "medium"
	case RiskHigh:
		return "high"
	case RiskCritical:
		return "critical"
	}
	return "Risk(" + strconv.Itoa(int(r)) + ")"
}

// ParseRisk returns the level named s, in any case.
func ParseRisk(s string) (Risk, error) {
	for r := RiskInfo; r <= RiskCritical; r++ {
		if strings.EqualFold(s, r.String()) {
			return r, nil
		}
	}
	return 0, fmt.Errorf("unknown risk level %q: want info, low, medium, high or critical", s)
}

// MarshalText implements [encoding.TextMarshaler].
func (r Risk) MarshalText() ([]byte, error) {
	if r > RiskCritical {
		return nil, fmt.Errorf("invalid risk level %d", r)
	}
	return []byte(r.String()), nil
}

// UnmarshalText implements [encoding.TextUnmarshaler].
func (r *Risk) UnmarshalText(b []byte) error {
	v, err := ParseRisk(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}
