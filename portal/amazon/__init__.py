"""Amazon Selling Partner API integration: regions and marketplaces, the LWA + Sellers API client,
user-facing outcome texts, and a loopback stand-in Amazon for tests and demos."""
