"""django-otp's TOTP admin shows every secret key and QR code to whoever may open it: keep it
out of the back office. Admins reset a lost device from the user list instead."""

from django.contrib import admin
from django_otp.plugins.otp_totp.models import TOTPDevice

if admin.site.is_registered(TOTPDevice):
    admin.site.unregister(TOTPDevice)
