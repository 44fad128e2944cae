from django.contrib.admin.apps import AdminConfig


class MaydayAdminConfig(AdminConfig):
    default_site = "mayday.admin.MaydayAdminSite"
