// Package knownports is portinspect's offline database of what runs on a
// port: IANA's registry of service names and port numbers, plus curated notes
// on what really listens there in practice, how risky that is, and how to
// check, turn off or restrict it.
//
// The sources below are the truth; the binary carries data_gen.go, Go code
// made from them by `go generate ./knownports`, so that a lookup parses
// nothing (TestGenerated fails when data_gen.go lags behind the sources).
// [Default] returns that database, indexed on first use, once, and safe for
// concurrent use. [Parse] builds a database from the sources' formats, for
// the generator, tests and fuzzing. The package never prints and never
// exits: a broken data file shows up as [DB.Err], and lookups then return
// empty answers.
//
// # Sources
//
// iana-service-names-port-numbers.csv is IANA's "Service Name and Transport
// Protocol Port Number Registry", downloaded from
// https://www.iana.org/assignments/service-names-port-numbers/service-names-port-numbers.csv
// and committed unchanged. It has 14,447 records after the header line (some
// span several lines: quoted fields hold newlines), and the newest
// registration or modification date in it is 2024-04-30, which is the best
// date the file gives for its own version. The tests check both numbers, so
// replacing the file with a newer download means updating them here and in
// iana_test.go. Only the service name, port number, transport protocol and
// description columns are kept in memory; rows that register a service name
// without a port (DNS-SD names) are counted but not kept.
//
// notes.yaml is written by hand and reviewed like code: every claim in a
// note cites its source in the note's or the advice item's references. Its
// format is described at the top of the file; parsing is strict (an unknown
// field is an error) and TestNotes checks the editorial rules on every note.
// After editing either source, run `go generate ./knownports`.
package knownports
