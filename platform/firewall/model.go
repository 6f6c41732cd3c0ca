// Package firewall judges whether the host firewall lets the network
// reach a listener: it evaluates a rule set, read from the kernel or
// parsed from a tool's output, for a synthetic packet from another
// machine to the listener's address and port.
//
// The rule sets of every system are read into one model (Ruleset: chains
// of rules, each a list of matches and an action), and one evaluator walks
// it. The evaluator knows what a packet from the network carries (its
// protocol, family, destination, a new connection's conntrack state, a
// TCP SYN) and what it cannot know (the source address and port, the
// interface it arrives on): a rule that tests the latter matches some
// packets, and the answer is then "partly", naming the condition. A rule
// it cannot evaluate (a match it does not model, a queue to user space)
// makes the answer "unknown" naming that rule: never a guess.
package firewall

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
)

// Verdict is what the firewall does with the network's packets to a
// listener.
type Verdict string

const (
	// Open: every packet from the network is let through.
	Open Verdict = "open"
	// Filtered: none is.
	Filtered Verdict = "filtered"
	// Partly: only packets from some sources, or arriving on some
	// interfaces, are let through (Conditions say which).
	Partly Verdict = "partly"
	// Unknown: the firewall could not be read, or its rules could not be
	// evaluated (Reason says why).
	Unknown Verdict = "unknown"
)

// Judgement is the firewall's verdict on one listener, with what decided
// it.
type Judgement struct {
	Verdict Verdict
	// Reason says in a line what decided the verdict, or why it is
	// unknown ("needs root", "no firewall found", "rule set too complex:
	// ...").
	Reason string
	// Rule is the deciding rule: the one that let the packet through or
	// stopped it, or the chain whose policy did; nil when none did (no
	// firewall) or the rules were not read.
	Rule *RuleRef
	// Conditions are what the let-through packets must have, for Partly
	// ("ip saddr 10.0.0.0/8", "iifname \"eth0\""), or, for Open, the
	// packets some rule stops first ("except ip saddr @blocklist").
	Conditions []string
	// Forwarded is where destination NAT sends the port's packets (a
	// container's address), whose path is then the forward chains', not
	// the input chains'; invalid when the packets are the host's.
	Forwarded netip.AddrPort
	// Bypassed says the input chains would have stopped the packets that
	// destination NAT sends on through the forward chains instead: the
	// firewall the host's administrator wrote does not apply (moby #22054).
	Bypassed bool
}

// RuleRef names a rule as the firewall's own tools show it.
type RuleRef struct {
	// Table is the family and name ("inet filter", "ip filter"), or the
	// store a Windows rule comes from, or "pf".
	Table string
	Chain string
	// Handle is the rule's handle (nftables) or number in its chain
	// (iptables, counted from 1); 0 for a chain's policy.
	Handle uint64
	// Text is the rule in the tool's own syntax, as well as it can be
	// rendered: "tcp dport 6379 drop", "policy drop".
	Text string
}

func (r *RuleRef) String() string {
	if r == nil {
		return ""
	}
	where := "chain " + r.Chain
	if r.Table != "" {
		where = "table " + r.Table + " " + where
	}
	if r.Handle != 0 {
		where += fmt.Sprintf(" handle %d", r.Handle)
	}
	return where + ": " + r.Text
}

// Family is a rule table's address family.
type Family uint8

const (
	FamilyIPv4 Family = 1 << iota
	FamilyIPv6
	FamilyInet = FamilyIPv4 | FamilyIPv6
)

// Hook is where in the kernel's path a base chain sees packets.
type Hook uint8

const (
	// HookNone: a regular chain, entered only by jump or goto.
	HookNone Hook = iota
	HookPrerouting
	HookInput
	HookForward
	// HookOther: output, postrouting, ingress: not on the path of a
	// packet to a listener.
	HookOther
)

// Ruleset is a firewall's chains, read at one moment.
type Ruleset struct {
	// Source names the firewall ("nftables", "iptables-legacy").
	Source string
	Chains []*Chain

	// index is the chains by family, table and name, built by the first
	// Judge: a listing judges every listener against the same rules.
	index     map[string]*Chain
	indexOnce sync.Once
}

// Chain is a chain of rules.
type Chain struct {
	Family Family
	// Table is the table's name; the chain's full name is its family,
	// table and name.
	Table string
	// TableLabel, when set, is how the table is named instead of nft's
	// "family name": "iptables-legacy filter".
	TableLabel string
	Name       string
	Hook       Hook
	// NAT says it is a nat chain (type nat), whose rules rewrite rather
	// than filter.
	NAT      bool
	Priority int32
	// Policy is a base chain's verdict for packets no rule decided:
	// Accept or Drop.
	Policy ActionKind
	Rules  []Rule
}

// TableName is the chain's table as nft names it: "inet filter", or its
// TableLabel.
func (c *Chain) TableName() string {
	if c.TableLabel != "" {
		return c.TableLabel
	}
	fam := map[Family]string{FamilyIPv4: "ip", FamilyIPv6: "ip6", FamilyInet: "inet"}[c.Family]
	return strings.TrimSpace(fam + " " + c.Table)
}

// Rule is one rule: every match must hold for its action to be taken.
type Rule struct {
	// Handle identifies the rule in its chain (see RuleRef.Handle).
	Handle uint64
	// Text, when set, is the rule as its tool wrote it (iptables-save's
	// line), shown instead of a rendering of the matches.
	Text    string
	Matches []Match
	Action  Action
	// Unsupported, when not "", is what the rule does that the evaluator
	// does not model: a packet that reaches it makes the verdict unknown.
	Unsupported string
}

// ActionKind is what a rule does with a packet that matches it.
type ActionKind uint8

const (
	// ActionNone: nothing that decides (counter, log); evaluation goes on.
	ActionNone ActionKind = iota
	ActionAccept
	ActionDrop
	// ActionReject drops with an error sent back: for reachability, a
	// drop.
	ActionReject
	ActionJump
	ActionGoto
	ActionReturn
	// ActionDNAT sends the packet to To: another machine's or a
	// container's address, or, with To's address unspecified (0.0.0.0),
	// another port of this host (redirect).
	ActionDNAT
	// ActionVerdictMap looks the packet's Keys up in Map, whose elements
	// carry the action.
	ActionVerdictMap
)

// Action is a rule's action.
type Action struct {
	Kind ActionKind
	// Chain is the target of a jump or goto.
	Chain string
	// To is a DNAT's destination.
	To netip.AddrPort
	// Keys and Map are a verdict map's.
	Keys []Key
	Map  *Set
}

// Field is a property of a packet that rules test.
type Field uint8

const (
	FieldNone Field = iota
	// FieldNFProto is the packet's family: NFPROTO_IPV4 (2) or
	// NFPROTO_IPV6 (10), one byte.
	FieldNFProto
	// FieldEtherType is meta protocol: 0x0800 or 0x86dd, two bytes.
	FieldEtherType
	// FieldL4Proto is the transport protocol number, one byte.
	FieldL4Proto
	// FieldSaddr and FieldDaddr are the addresses, 4 or 16 bytes.
	FieldSaddr
	FieldDaddr
	// FieldSport and FieldDport are the ports, two bytes, network order.
	FieldSport
	FieldDport
	// FieldTCPFlags is the TCP header's flags byte.
	FieldTCPFlags
	// FieldIIFName and FieldOIFName are interface names, 16 bytes,
	// NUL-padded (IFNAMSIZ).
	FieldIIFName
	FieldOIFName
	// FieldIIF is the input interface's index, four bytes, host order.
	FieldIIF
	// FieldIIFType is the input interface's ARPHRD type, two bytes, host
	// order.
	FieldIIFType
	// FieldCtState is the conntrack state bits, four bytes, host order.
	FieldCtState
	// FieldCtStatus is the conntrack status bits, four bytes, host order.
	FieldCtStatus
	// FieldCtDirection is the packet's direction in its connection, one
	// byte.
	FieldCtDirection
	// FieldPktType is meta pkttype, one byte.
	FieldPktType
	// FieldFibDaddrType is the route type of the destination address
	// (fib daddr type), four bytes, host order.
	FieldFibDaddrType
	// FieldFibSaddrOIF is the interface a reply to the source would leave
	// by (fib saddr . iif oif, reverse path filtering), four bytes.
	FieldFibSaddrOIF
)

// Key is a field a match reads, perhaps only part of it (a prefix of an
// address) and perhaps masked.
type Key struct {
	Field Field
	// Family is an address field's: FamilyIPv4 or FamilyIPv6.
	Family Family
	// Offset and Len select bytes of the field; Len 0 is all of it.
	Offset, Len int
	// Mask and Xor transform the bytes read (nft's bitwise): nil for none.
	Mask, Xor []byte
}

// CmpOp compares a key with data.
type CmpOp uint8

const (
	OpEq CmpOp = iota
	OpNeq
	OpLt
	OpLte
	OpGt
	OpGte
	// OpIn and OpNotIn test membership of Set.
	OpIn
	OpNotIn
)

// Match is one test of a rule.
type Match struct {
	// Keys are what is tested: one field, or a concatenation for a set.
	Keys []Key
	Op   CmpOp
	Data []byte
	Set  *Set
	// Condition, when not "", is a test of something the evaluator treats
	// as known to hold for some packets only ("limit rate 10/second"):
	// the rule then matches conditionally, and Keys are not read.
	Condition string
	// Unsupported, when not "", is a test the evaluator does not model.
	Unsupported string
	// Never, when not "", is a test no first packet of a connection from
	// the network passes, and what it tests ("an IPv6 routing header").
	Never string
}

// Set is a named or anonymous set or map.
type Set struct {
	Name     string
	Interval bool
	Elements []Element
}

// Element is a set's element: a key, or for an interval set the start of
// a range whose end is the next element marked IntervalEnd (nftables's
// rbtree) or KeyEnd (a concatenation's ranges), with a map's action.
type Element struct {
	Key, KeyEnd []byte
	IntervalEnd bool
	Action      *Action
}
