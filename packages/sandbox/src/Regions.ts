/**
 * Where a buyer is, from `customer_ip`. The sandbox maps the documentation address ranges
 * (RFC 5737, RFC 3849) to countries, so tests can buy "from" anywhere:
 *
 * | range | country |
 * |---|---|
 * | 192.0.2.0/24 (TEST-NET-1) | US |
 * | 198.51.100.0/24 (TEST-NET-2) | GB |
 * | 203.0.113.0/24 (TEST-NET-3) | DE |
 * | 2001:db8::/32 | CA |
 * | 127.0.0.0/8, ::1 (local development) | US |
 *
 * Any other address has no known country: validation answers 422 `InvalidCountry`.
 */
export const countryOf = (ip: string): string | undefined => {
  if (ip.startsWith("192.0.2.")) return "US"
  if (ip.startsWith("198.51.100.")) return "GB"
  if (ip.startsWith("203.0.113.")) return "DE"
  const lower = ip.toLowerCase()
  if (lower.startsWith("2001:db8:") || lower.startsWith("2001:0db8:")) return "CA"
  if (ip.startsWith("127.") || lower === "::1") return "US"
  return undefined
}
