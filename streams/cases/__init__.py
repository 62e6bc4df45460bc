"""Cases people can work: a store fed from the alert topics, a web view, decisions, bundles."""
