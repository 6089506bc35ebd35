"""URLconfs for the system checks' tests of where a document's URL leads (E012)."""
