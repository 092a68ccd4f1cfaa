"""Two-factor sign-in (django-otp): a TOTP authenticator app, with single-use backup codes.

Sign-in stays the admin login page; while `TWO_FACTOR_REQUIRED` is on, `TwoFactorMiddleware`
lets a signed-in but unverified session reach only these pages, and the admin site and the API
token endpoint check the second factor themselves as well."""
