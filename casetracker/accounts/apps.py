from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "casetracker.accounts"
    label = "accounts"
    verbose_name = "Accounts and facilities"
