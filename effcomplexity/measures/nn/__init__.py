"""Neural-network complexity measures (torch); public names in effcomplexity.nn."""
