from django.urls import path

from . import views

app_name = "account"

urlpatterns = [
    path("setup/", views.setup, name="setup"),
    path("verify/", views.verify, name="verify"),
    path("backup-codes/", views.backup_codes, name="backup-codes"),
    path("sign-out/", views.sign_out, name="sign-out"),
]
