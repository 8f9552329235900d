"""Hooks for Microsoft Graph and Dataverse (msal + requests)."""
